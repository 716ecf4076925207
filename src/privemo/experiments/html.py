"""One self-contained report page for every run (``report.html``).

The page is the run's ``report.md`` turned into HTML (real tables), then its figures (PNG embedded
as base64, or inline SVG), the data and threat-model statement, the run's configuration, and the
listening / viewing examples the run made, embedded as data URIs. Nothing is fetched: the file can
be mailed, archived or opened offline and shows everything.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from collections.abc import Sequence
from pathlib import Path

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1150px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45;
overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%;margin:.8em 0}
table{border-collapse:collapse;font-size:.9em} td,th{overflow-wrap:normal}
#verdict{border:2px solid #2a6;border-radius:6px;padding:.2em 1em;background:#f6fbf7}
#verdict li{margin:.35em 0}
th,td{border:1px solid #bbb;padding:.25em .55em;text-align:left;vertical-align:top}
th{background:#f0f0f0} tr:nth-child(even) td{background:#fafafa}
code,pre{background:#f5f5f5;border-radius:3px} pre{padding:.6em;overflow-x:auto;white-space:pre-wrap}
figure{display:inline-block;margin:.6em 1em .6em 0;vertical-align:top;max-width:100%} figcaption{font-size:.85em;color:#444}
figure img,figure svg,figure video{max-width:100%;height:auto} audio{max-width:100%} section{margin-top:2em}
details summary{cursor:pointer;font-weight:600}
.examples figure{max-width:340px}
"""

MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg", ".mp3": "audio/mpeg",
               ".webm": "video/webm", ".mp4": "video/mp4", ".png": "image/png", ".jpg": "image/jpeg",
               ".jpeg": "image/jpeg", ".gif": "image/gif"}


# markdown's inline patterns that would let text from a config or a results row become markup or a
# link: raw HTML and every kind of link / image reference (report text never needs them)
_UNSAFE_INLINE = ("html", "link", "reference", "image_link", "image_reference", "short_reference",
                  "short_image_ref", "autolink", "automail")

# no script at all, nothing fetched: only the page's own inline style and data: images / media
CSP = ("default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; "
       "base-uri 'none'; form-action 'none'")


def markdown_html(text: str) -> str:
    """Markdown (with pipe tables) as HTML. Raw HTML in the text is shown as text, never as markup
    (names and values from configs and results reach these tables), and no link is made."""
    import markdown

    md = markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"], output_format="html")
    md.preprocessors.deregister("html_block")
    for name in _UNSAFE_INLINE:
        if name in md.inlinePatterns:
            md.inlinePatterns.deregister(name)
    out = md.convert(text)
    # a wide table scrolls inside its own box instead of widening the page (phone screens)
    return out.replace("<table>", "<div class='scroll'><table>").replace("</table>", "</table></div>")


def data_uri(path: Path) -> str:
    kind = MEDIA_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def figure_html(caption: str, image: str) -> str:
    """A figure from base64 PNG data, or inline SVG markup (starting with ``<svg``)."""
    cap = html.escape(caption)
    body = image if image.lstrip().startswith("<svg") else \
        f'<img alt="{cap}" src="data:image/png;base64,{image}">'
    return f"<figure>{body}<figcaption>{cap}</figcaption></figure>"


def media_html(path: Path, caption: str, img_style: str = "image-rendering:pixelated;height:96px") -> str:
    kind = MEDIA_TYPES.get(path.suffix.lower(), "")
    cap = html.escape(caption)
    if kind.startswith("audio"):
        el = f'<audio controls preload="metadata" src="{data_uri(path)}"></audio>'
    elif kind.startswith("video"):
        el = f'<video controls preload="metadata" width="320" src="{data_uri(path)}"></video>'
    elif kind.startswith("image"):
        el = f'<img alt="{cap}" style="{img_style}" src="{data_uri(path)}">'
    else:
        return ""
    return f"<figure>{el}<figcaption>{cap}</figcaption></figure>"


def examples_html(folder: Path, title: str = "Listening and viewing examples") -> str:
    """Every sub-folder of ``folder`` (one per method) with its media files, embedded."""
    if not folder.is_dir():
        return ""
    parts = []
    for d in sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: (p.name != "original", p.name)):
        items = "".join(media_html(f, f.stem) for f in sorted(d.iterdir()) if f.is_file() and not f.name.startswith("."))
        if items:
            parts.append(f"<h3>{html.escape(d.name)}</h3><div class='examples'>{items}</div>")
    return f"<section><h2>{html.escape(title)}</h2>{''.join(parts)}</section>" if parts else ""


def page(title: str, md: str, figures: Sequence[tuple[str, str]] = (), threat_model: str = "",
         config: str = "", extra_html: str = "", verdict: str = "",
         lead_figures: Sequence[tuple[str, str]] = (), doc: str = "") -> str:
    """The whole page, answer first: the report's title and opening paragraph, the ``verdict`` block
    (markdown), the capability's ``doc`` page (a file of privemo's docs/), and the ``lead_figures``
    (the privacy-utility figure), then the rest of the report's
    markdown (the detailed tables), its other figures, the data / threat-model statement (markdown),
    any extra HTML (examples) and the configuration (YAML text)."""
    cut = md.find("\n## ")
    head, body = (md, "") if cut < 0 else (md[:cut], md[cut:])
    parts = [f"<main>{markdown_html(head)}"]
    if verdict:
        parts.append(f"<section id='verdict'>{markdown_html(verdict)}</section>")
    if doc:
        parts.append(f"<p class='doc'>What this study is, its ready configs, published figures and measured limits: "
                     f"<code>docs/{html.escape(doc)}</code> in privemo (and <code>docs/threat-models.md</code>).</p>")
    if lead_figures:
        parts.append("<section id='lead-figure'>" + "".join(figure_html(c, b) for c, b in lead_figures) + "</section>")
    if body:
        parts.append(f"<section id='details'>{markdown_html(body)}</section>")
    if figures:
        parts.append("<section><h2>Figures</h2>" + "".join(figure_html(c, b) for c, b in figures) + "</section>")
    if threat_model:
        parts.append(f"<section id='threat-model'><h2>Data and threat model</h2>{markdown_html(threat_model)}</section>")
    if extra_html:
        parts.append(extra_html)
    if config:
        parts.append("<section id='config'><details><summary>Configuration of this run</summary>"
                     f"<pre>{html.escape(config)}</pre></details></section>")
    parts.append("</main>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>" + "\n".join(parts)
            + "</body></html>")


def run_config(run_dir: Path) -> str:
    p = run_dir / "config.yaml"
    return p.read_text(errors="replace") if p.is_file() else ""
