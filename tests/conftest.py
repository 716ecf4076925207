"""Shared fixtures: tiny generated media, and the path of the real corpora (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PRIVEMO_DATA", ROOT.parent / "shared" / "data"))

if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs a worker per core: one thread each, so they
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # share the cores (the CLI runs tests start inherit it)
        os.environ.setdefault(_var, "1")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own feature cache (the synthetic corpus is shared per session)."""
    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def make_wav(path: Path, seconds: float = 0.3, sr: int = 16000, freq: float = 220.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * np.random.default_rng(seed).standard_normal(len(t))
    sf.write(path, x.astype(np.float32), sr)
    return path


def make_image(path: Path, size: int = 32, mode: str = "L", fmt: str | None = None, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 255, (size, size) if mode in ("L", "P") else (size, size, 3))
    im = Image.fromarray(arr.astype(np.uint8), "L" if mode in ("L", "P") else "RGB")
    if mode == "P":
        im = im.convert("P")
    im.save(path, format=fmt)
    return path


def shared(*parts: str) -> Path:
    p = SHARED_DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real corpus not available: {p} is absent (see ../shared/data/README.md)")
    return p


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    """A small synthetic corpus (6 speakers x 6 emotions x 4 items, 1 video each), generated once."""
    from privemo.corpora.synthetic import generate

    return generate(tmp_path_factory.mktemp("synthetic"), n_speakers=6, items=4, videos=1, seed=3)


SYNTH_OPTS = {"n_speakers": 6, "items": 4, "videos": 1, "seed": 3}


CHROMIUM = os.environ.get("PRIVEMO_CHROMIUM", "/usr/bin/chromium")
# the flags a sandboxed, offline machine needs (no background connections, no GPU, no sandbox as root)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]

_PAGE_JS = """() => {
  const vis = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const tables = [...document.querySelectorAll('table')];
  return {
    title: document.title,
    tables: tables.length,
    visible_tables: tables.filter(vis).length,
    table_rows: tables.map(t => t.rows.length),
    images: document.images.length,
    broken_images: [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt),
    svgs: document.querySelectorAll('svg').length,
    media: [...document.querySelectorAll('audio,video')].map(m => ({tag: m.tagName, ready: m.readyState,
             error: m.error ? m.error.code : null, duration: m.duration})),
    external: [...document.querySelectorAll('[src],link[href]')].map(e => e.getAttribute('src') || e.getAttribute('href'))
               .filter(u => u && !u.startsWith('data:') && !u.startsWith('#')),
    text: document.body.innerText.length,
  };
}"""


# a page must fit these widths: a desktop and a phone (CSS pixels)
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}

_LAYOUT_JS = """() => {
  const w = document.documentElement.clientWidth;
  const inBox = el => el.closest('.scroll, pre, details:not([open])');
  const wide = [...document.body.querySelectorAll('*')].filter(el => {
      const r = el.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 && !inBox(el); })
    .slice(0, 5).map(el => el.tagName + (el.id ? '#' + el.id : '') + ' ' + Math.round(el.getBoundingClientRect().right));
  const verdict = document.querySelector('#verdict');
  const table = document.querySelector('table');
  return {width: w, scroll_width: document.documentElement.scrollWidth, wide: wide,
          verdict: !!verdict,
          verdict_first: !!verdict && (!table || !!(verdict.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING)),
          verdict_top: verdict ? Math.round(verdict.getBoundingClientRect().top) : null};
}"""


def open_in_chromium(path: Path, extra_js: str | None = None, screenshots: Path | None = None) -> dict:
    """Load a report page in Debian's headless chromium; what it shows, and every console or page error.
    At each of ``WIDTHS`` the layout (does anything overflow the page outside a scroll box?) is
    measured, and with ``screenshots`` the top of the page is saved there as ``<stem>-<width>.png``."""
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"{CHROMIUM} not found: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            page.wait_for_function("() => [...document.querySelectorAll('audio,video')].every(m => m.readyState >= 1 "
                                   "|| m.error)", timeout=20000)
            info = page.evaluate(_PAGE_JS)
            if extra_js:
                info["extra"] = page.evaluate(extra_js)
            info["layout"] = {}
            for name, (w, h) in WIDTHS.items():
                page.set_viewport_size({"width": w, "height": h})
                info["layout"][name] = page.evaluate(_LAYOUT_JS)
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    slug = "".join(c if c.isalnum() else "-" for c in info["title"].lower()).strip("-")
                    page.screenshot(path=str(screenshots / f"{slug}-{Path(path).parent.name}-{name}.png"))
        finally:
            browser.close()
    info["errors"] = errors
    return info


PAYLOAD = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>"
# the report writer of each page title, to re-draw a page from rows with markup in their names
WRITERS = {"privemo report": ("privemo.experiments.report", "write_report"),
           "privemo: voice anonymization": ("privemo.experiments.voice.report", "write_voice_report"),
           "privemo: face privacy": ("privemo.experiments.face.report", "write_face_report"),
           "privemo: PPRL-VGAN": ("privemo.experiments.vgan.report", "write_vgan_report"),
           "privemo: audio-visual anonymization": ("privemo.experiments.video.report", "write_video_report"),
           "privemo federated report": ("privemo.experiments.federated.report", "write_federated_report")}
NAME_KEYS = ("variant", "method", "evaluator", "run", "corpus", "strategy", "setting", "protocol")


def assert_markup_escaped(path: Path, title: str) -> None:
    """Names in a run's results that hold markup (``<script>``, an ``onerror`` image) are shown as
    text on the re-drawn page: no script element, nothing runs, the text is there."""
    import importlib
    import json
    import shutil
    import tempfile

    run = Path(path).parent
    if title not in WRITERS or not (run / "results.jsonl").is_file():
        return
    module, fn = WRITERS[title]
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "run"
        shutil.copytree(run, copy)
        rows = [json.loads(line) for line in (copy / "results.jsonl").read_text().splitlines() if line.strip()]
        for r in rows:
            for k in NAME_KEYS:
                if isinstance(r.get(k), str) and r[k] not in ("original", "narula", "anonymizer", "federated",
                                                               "centralised", "training"):
                    r[k] = r[k] + PAYLOAD
        (copy / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        shutil.rmtree(copy / "units", ignore_errors=True)
        getattr(importlib.import_module(module), fn)(copy)
        html = (copy / "report.html").read_text()
        from tests.fuzz.cases import active_markup

        assert not active_markup(html), f"{title}: raw markup from the results: {active_markup(html)[:3]}"
        if title != "privemo: PPRL-VGAN":  # its tables name no variant or method
            assert "&lt;script&gt;window.__pwned" in html, f"{title}: the names with markup are not on the page"
        info = open_in_chromium(copy / "report.html", extra_js="() => ({pwned: window.__pwned === undefined ? null : "
                                "window.__pwned, scripts: document.scripts.length})")
        assert info["extra"] == {"pwned": None, "scripts": 0}, f"{title}: {info['extra']}"
        assert not info["errors"], f"{title}: {info['errors']}"


def assert_report_page(path: Path, min_tables: int = 1) -> dict:
    """The headless-browser check of a run's report.html: loads without errors, self-contained, opens
    with its verdict block (before any table), fits a desktop and a phone-width screen (wide tables
    scroll in their own box), shows its tables, every image decodes and every audio / video example
    loads; and, re-drawn from its rows with markup in every name, shows that markup as text and runs no
    script. With ``PRIVEMO_SCREENSHOTS=DIR`` the top of the page at both widths is saved in DIR."""
    assert Path(path).is_file(), f"{path} was not written"
    assert "http-equiv='Content-Security-Policy'" in Path(path).read_text(), f"{path}: no Content-Security-Policy"
    shots = os.environ.get("PRIVEMO_SCREENSHOTS")
    info = open_in_chromium(path, screenshots=Path(shots) if shots else None)
    for name, lay in info["layout"].items():
        assert lay["scroll_width"] <= lay["width"] + 1, (
            f"{path}: the page overflows a {name}-width screen ({lay['scroll_width']} > {lay['width']} px): {lay['wide']}")
        assert lay["verdict"] and lay["verdict_first"], f"{path}: no verdict block before the first table ({name})"
    assert_markup_escaped(path, info["title"])
    assert not info["errors"], f"{path}: {info['errors']}"
    assert not info["external"], f"{path}: not self-contained, refers to {info['external'][:3]}"
    assert info["tables"] >= min_tables and info["visible_tables"] == info["tables"], f"{path}: tables {info}"
    assert all(n >= 2 for n in info["table_rows"]), f"{path}: a table without rows {info['table_rows']}"
    assert not info["broken_images"], f"{path}: images that do not decode: {info['broken_images']}"
    bad = [m for m in info["media"] if m["error"] is not None or m["ready"] < 1 or not (m["duration"] or 0) > 0]
    assert not bad, f"{path}: media that do not load: {bad}"
    return info
