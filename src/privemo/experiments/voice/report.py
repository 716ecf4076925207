"""The voice evaluation report: one table with every method side by side, the target checks for the
best method, ranade's Table 1, per-gender utility, confusion matrices, the trade-off curves over k
and epsilon, and listening examples. ``report.md`` and a self-contained ``report.html``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from privemo.evaluators.judge import Column, RowColumn, row_columns, strongest_column
from privemo.evaluators.judge import target_checks as declared_checks
from privemo.experiments.html import examples_html, page, run_config
from privemo.experiments.report import _png
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import (
    PROTECTION,
    REFERENCE,
    Verdict,
    declared_attacks,
    verdict_figure,
    with_verdict,
)

CLASS_RATIO = 0.7  # a class whose recall falls below this share of its original recall is flagged
VERIFY, IDENTIFY = "voice verification", "voice identification"
GROUPS = (VERIFY, IDENTIFY, "gender")  # the table's column groups, in order (then utility, then speed)
RTF = RowColumn("", Column("real-time factor (1 thread)", "rtf"))  # the row's own figure, not a judge's


def columns(rows: list[dict[str, Any]]) -> list[RowColumn]:
    """The main table's columns, from the declarations of the judges the rows hold: verification,
    identification and gender attackers, then utility, then the real-time factor."""
    return [*row_columns(rows, "voice", GROUPS), RTF]


def _fmt(v: Any, how: str) -> str:
    if v is None or v != v:
        return "-"
    return f"{100 * v:.1f}%" if how == "pct" else f"{v:.3f}"


def strongest(r: dict[str, Any], threat: str) -> tuple[str, float]:
    """The label and figure of the strongest attacker of ``threat`` on this row."""
    col, value = strongest_column(r, threat, columns([r]))
    return (col.label, value) if col is not None else ("-", value)


def semi_eer(r: dict[str, Any]) -> float:
    """The strongest semi-informed verifier's EER: the lowest of raw cosine, the LDA back-end and
    the encoder fine-tuned on anonymized speech (where the run had it)."""
    return strongest(r, VERIFY)[1]


def informed_id(r: dict[str, Any]) -> float:
    """The strongest informed identifier's accuracy (resemblyzer, eGeMAPS, the fine-tuned encoder)."""
    return strongest(r, IDENTIFY)[1]


def class_recall(r: dict[str, Any]) -> dict[str, float]:
    """Recall per emotion, trained and tested on anonymized (logreg, ComParE); rows written before
    recall was stored get it from their confusion counts."""
    e = r["emotion"]
    if "logreg_anon_recall" in e:
        return dict(e["logreg_anon_recall"])
    from privemo.metrics import recall_from_confusion

    return recall_from_confusion(e["logreg_anon_confusion"], e["labels"])


def class_drops(r: dict[str, Any], ref: dict[str, Any]) -> list[str]:
    from privemo.metrics import recall_drops

    return recall_drops(class_recall(ref), class_recall(r), CLASS_RATIO)


def target_checks(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 20's targets, checked for every method of the main table (not the curve points): each
    judge's declared targets (the strongest attacker of each check; the emotion against the
    original's), then no class below its recall and the real-time factor against McAdams's."""
    ref = next((r for r in rows if r["method"] == "original"), None)
    if ref is None or not all("emotion" in r for r in rows):
        return []
    mcadams = [r["rtf"] for r in rows if r["anonymizer"]["type"] == "mcadams"]
    out = []
    for r in rows:
        if r["method"] == "original" or r.get("curve") is not None:
            continue
        checks = {c.name: (f"{c.value:.2f} x" if c.utility else _fmt(c.value, c.fmt), c.met)
                  for c in declared_checks(r, ref, columns([r, ref]))}
        drops = class_drops(r, ref)
        checks[f"no emotion below {CLASS_RATIO} x its recall"] = (", ".join(drops) or "none", not drops)
        if mcadams:
            checks["RTF <= McAdams"] = (f"{r['rtf']:.3f} / {min(mcadams):.3f}", r["rtf"] <= min(mcadams))
        out.append({"method": r["method"], "checks": checks,
                    "reached": sum(ok for _, ok in checks.values()), "of": len(checks)})
    return out


def _cells(r: dict[str, Any], cols: list[RowColumn]) -> list[str]:
    """The row's cells, the strongest verifier and identifier in bold."""
    bold = {strongest(r, VERIFY)[0], strongest(r, IDENTIFY)[0]}
    out = []
    for c in cols:
        cell = _fmt(c.get(r), c.column.fmt)
        out.append(f"**{cell}**" if c.label in bold and cell != "-" else cell)
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    main = [r for r in rows if r.get("curve") is None]
    cols = columns(rows)
    ref = rows[0] if rows else None
    lines = [f"# Voice anonymization: {ref['n_items']} clips, {ref['n_speakers']} speakers" if ref else "# Voice",
             "", "## Every method against every attacker", "",
             "Who attacks, with what, trained on what (each judge's own declaration):", "",
             threat_model(rows, intro=""),
             "", "| method | " + " | ".join(c.label for c in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for r in main:
        lines.append(f"| {r['method']} | " + " | ".join(_cells(r, cols)) + " |")
    checks = target_checks(rows)
    if checks:
        names = list(checks[0]["checks"])
        lines += ["", "## Targets (issue 20), per method, against the strongest attacker: value (yes = reached)", "",
                  "| method | " + " | ".join(names) + " | reached |", "|---|" + "---|" * (len(names) + 1)]
        for c in checks:
            lines.append(f"| {c['method']} | " + " | ".join(
                f"{v} ({'yes' if ok else 'no'})" for v, ok in c["checks"].values()) + f" | {c['reached']}/{c['of']} |")
    similar = [r for r in main if "similarity" in r]
    lines += ["", "## ranade Table 1 (resemblyzer cosine)", "",
              "| method | R1 original mean / median / min / max | R1 anonymized | R2 (original vs anonymized) |",
              "|---|---|---|---|"] if similar else []
    for r in similar:
        s = r["similarity"]
        lines.append(f"| {r['method']} | " + " | ".join(
            " / ".join(f"{s[k][q]:.3f}" for q in ("mean", "median", "min", "max"))
            for k in ("r1_original", "r1_anonymized", "r2")) + " |")
    grouped = [r for r in main if "id_groups" in r]
    if grouped:
        names = list(grouped[0]["id_groups"]["groups"])
        lines += ["", "## What still names the speaker: the informed eGeMAPS identifier per parameter group, "
                  "alone / without it (all 88 functionals: the first column)", "",
                  "| method | all | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
        for r in grouped:
            g = r["id_groups"]
            lines.append(f"| {r['method']} | {_fmt(g['all'], 'pct')} | " + " | ".join(
                f"{_fmt(g['groups'][n]['alone'], 'pct')} / {_fmt(g['groups'][n]['without'], 'pct')}"
                if n in g["groups"] else "-" for n in names) + " |")
    if not all("emotion" in r for r in rows):  # a run without the emotion judge: no utility sections
        return "\n".join(lines) + "\n"
    lines += ["", "## Emotion UAR per gender (trained and tested on anonymized, logreg)", "",
              "| method | " + " | ".join(sorted(main[0]["emotion"]["logreg_anon_per_gender"])) + " |" if main else "",
              "|---|" + "---|" * (len(main[0]["emotion"]["logreg_anon_per_gender"]) if main else 0)]
    for r in main:
        pg = r["emotion"]["logreg_anon_per_gender"]
        lines.append(f"| {r['method']} | " + " | ".join(f"{pg[g]:.3f}" for g in sorted(pg)) + " |")
    ref_row = next((r for r in rows if r["method"] == "original"), None)
    if ref_row is not None and main:
        rec0 = class_recall(ref_row)
        labels = list(rec0)
        lines += ["", f"## Recall per emotion (trained and tested on anonymized, logreg): anonymized / original; "
                  f"a class below {CLASS_RATIO} x its original recall is flagged (!)", "",
                  "| method | " + " | ".join(labels) + " | flagged |", "|---|" + "---|" * (len(labels) + 1)]
        for r in main:
            rec = class_recall(r)
            drops = class_drops(r, ref_row)
            lines.append(f"| {r['method']} | " + " | ".join(
                f"{rec.get(c, float('nan')):.2f} / {rec0[c]:.2f}" + (" (!)" if c in drops else "") for c in labels)
                + f" | {', '.join(drops) or 'none'} |")
    curves = [r for r in rows if r.get("curve")]
    if curves:
        lines += ["", "## Trade-off curves", "", "| curve | x | EER (strongest semi-informed) | speaker ID (strongest informed) | "
                  "gender | emotion UAR (anon/anon) | emotion UAR (orig/anon) |", "|---|---|---|---|---|---|---|"]
        for r in sorted(curves, key=lambda r: (r["curve"], r["x"])):
            lines.append(f"| {r['curve']} | {r['x']:g} | {_fmt(semi_eer(r), 'pct')} | "
                         f"{_fmt(informed_id(r), 'pct')} | {_fmt(strongest(r, 'gender')[1], 'f3')} | "
                         f"{r['emotion']['logreg_anon_uar']:.3f} | {r['emotion']['logreg_orig_uar']:.3f} |")
    dp = [r for r in rows if r.get("dp")]
    if dp:
        lines += ["", "Laplace noise: epsilon is per 10 ms frame (a clip of T frames composes to T x epsilon); "
                  "L1 sensitivity of the clipped MFCC vector: " +
                  ", ".join(f"{r['method']} {r['dp']['l1_sensitivity']:.1f} (scale {r['dp']['laplace_scale']:.2f})"
                            for r in dp)]
    return "\n".join(lines) + "\n"


def _figures(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: list[tuple[str, str]] = []
    if not all("emotion" in r for r in rows):
        return out
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for r in rows:
        ax.scatter(100 * semi_eer(r), r["emotion"]["logreg_anon_uar"], s=40 if r.get("curve") is None else 18)
        ax.annotate(r["method"], (100 * semi_eer(r), r["emotion"]["logreg_anon_uar"]), fontsize=7)
    ax.set_xlabel("semi-informed EER (%)  (higher = more private)")
    ax.set_ylabel("emotion UAR, trained and tested on anonymized")
    ax.set_title("privacy against utility")
    out.append(("privacy-utility", _png(fig)))
    plt.close(fig)
    main = [r for r in rows if r.get("curve") is None]
    if main:
        import numpy as np

        fig, axes = plt.subplots(1, len(main), figsize=(3.2 * len(main), 3.4), squeeze=False)
        for ax, r in zip(axes[0], main, strict=True):
            cm = np.asarray(r["emotion"]["logreg_anon_confusion"], dtype=float)
            ax.imshow(cm / np.maximum(cm.sum(axis=1, keepdims=True), 1), vmin=0, vmax=1, cmap="Blues")
            labels = r["emotion"]["labels"]
            ax.set_xticks(range(len(labels)), [lab[:3] for lab in labels], fontsize=6, rotation=90)
            ax.set_yticks(range(len(labels)), [lab[:3] for lab in labels], fontsize=6)
            ax.set_title(f"{r['method']} (UAR {r['emotion']['logreg_anon_uar']:.2f})", fontsize=8)
        fig.suptitle("emotion confusion (rows: true, row-normalised), trained and tested on anonymized", fontsize=8)
        out.append(("confusion matrices", _png(fig)))
        plt.close(fig)
    curves = sorted({r["curve"] for r in rows if r.get("curve")})
    for c in curves:
        pts = sorted([r for r in rows if r.get("curve") == c], key=lambda r: r["x"])
        fig, ax = plt.subplots(figsize=(6, 4))
        xs = [r["x"] for r in pts]
        ax.plot(xs, [semi_eer(r) for r in pts], "o-", label="semi-informed EER")
        ax.plot(xs, [informed_id(r) for r in pts], "s-", label="informed speaker ID (strongest)")
        ax.plot(xs, [r["emotion"]["logreg_anon_uar"] for r in pts], "^-", label="emotion UAR (anon/anon)")
        ax.plot(xs, [r["emotion"]["logreg_orig_uar"] for r in pts], "v--", label="emotion UAR (orig/anon)")
        ax.set_xscale("log")
        ax.set_xlabel(c)
        ax.legend(fontsize=7)
        ax.set_title(f"{c}: the trade-off")
        out.append((f"curve {c}", _png(fig)))
        plt.close(fig)
    return out


def audio_stats(path: Path) -> dict[str, float]:
    """What ``sox stat`` would say to rule out silence, clipping and buzz: duration, peak and RMS
    level (dBFS), the share of clipped samples (|x| >= 0.999), of silent 20 ms frames (40 dB below the
    loudest frame, or below -100 dBFS) and
    of energy in the strongest 1% of spectral bins (a steady buzz or tone concentrates it there)."""
    import numpy as np

    from privemo.media import read_audio

    x, sr = read_audio(path, sr=None)
    x = x.astype(np.float64)
    db = lambda v: float(20 * np.log10(max(v, 1e-10)))  # noqa: E731
    hop = max(1, int(0.02 * sr))
    frames = x[: len(x) // hop * hop].reshape(-1, hop) if len(x) >= hop else x[None, :]
    frame_db = 20 * np.log10(np.maximum(np.sqrt((frames ** 2).mean(axis=1)), 1e-10))
    power = np.abs(np.fft.rfft(x)) ** 2
    top = np.sort(power)[::-1][: max(1, len(power) // 100)]
    return {"seconds": len(x) / sr, "peak_dbfs": db(np.abs(x).max(initial=0.0)),
            "rms_dbfs": db(np.sqrt((x ** 2).mean()) if len(x) else 0.0),
            "clipped": float(np.mean(np.abs(x) >= 0.999)) if len(x) else 0.0,
            "silent_frames": float(np.mean(frame_db < max(float(frame_db.max(initial=-200.0)) - 40, -100))),
            "top1pct_energy": float(top.sum() / max(power.sum(), 1e-20))}


def _examples(run_dir: Path) -> dict[str, list[Path]]:
    folder = run_dir / "examples"
    if not folder.is_dir():
        return {}
    return {d.name: sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
            for d in sorted(folder.iterdir(), key=lambda p: (p.name != "original", p.name)) if d.is_dir()}


def listening_md(run_dir: Path) -> str:
    """A table of :func:`audio_stats` for every listening example, original first."""
    ex = _examples(run_dir)
    if not ex:
        return ""
    lines = ["", "## Listening checks (every example: silence, clipping, buzz)", "",
             "| method | example | seconds | peak dBFS | RMS dBFS | clipped | 20 ms frames 40 dB below the loudest | "
             "energy in the top 1% of bins |", "|---|---|---|---|---|---|---|---|"]
    for method, files in ex.items():
        for f in files:
            try:
                st = audio_stats(f)
            except Exception as exc:  # a bad file is a finding of the report, not a crash of it
                lines.append(f"| {method} | {f.stem} | unreadable: {type(exc).__name__} | | | | | |")
                continue
            lines.append(f"| {method} | {f.stem} | {st['seconds']:.2f} | {st['peak_dbfs']:.1f} | {st['rms_dbfs']:.1f} "
                         f"| {100 * st['clipped']:.2f}% | {100 * st['silent_frames']:.0f}% | "
                         f"{100 * st['top1pct_energy']:.0f}% |")
    return "\n".join(lines) + "\n"


def _spectrograms(run_dir: Path) -> list[tuple[str, str]]:
    """The first example of every method as a spectrogram, original on top."""
    ex = {m: f[0] for m, f in _examples(run_dir).items() if f}
    if not ex:
        return []
    import matplotlib.pyplot as plt

    from privemo.media import read_audio

    fig, axes = plt.subplots(len(ex), 1, figsize=(7, 1.5 * len(ex) + 0.4), squeeze=False)
    for ax, (method, f) in zip(axes[:, 0], ex.items(), strict=True):
        try:
            x, sr = read_audio(f, sr=16000)
        except Exception:
            ax.set_title(f"{method}: unreadable", fontsize=7)
            continue
        ax.specgram(x + 1e-7, NFFT=512, Fs=sr, noverlap=384, cmap="magma", vmin=-140)
        ax.set_ylabel("Hz", fontsize=6)
        ax.tick_params(labelsize=6)
        ax.set_title(f"{method}: {f.stem}", fontsize=7)
    axes[-1, 0].set_xlabel("s", fontsize=6)
    fig.tight_layout()
    return [("spectrograms of the first listening example", _png(fig))]


def threat_model(rows: list[dict[str, Any]] | None = None,
                 intro: str = "The attacker hears anonymized audio; each speaker's clips are split in an enrolment "
                 "half and a trial half; folds are speaker-independent.") -> str:
    """The page's threat-model section, from the declarations of the judges the rows hold (every
    registered voice judge without rows)."""
    from privemo.evaluators.judge import judges_present
    from privemo.evaluators.threat import describe

    return describe([k for cls in judges_present(rows or [], "voice") for k in cls.threats], intro)


def verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    """A verdict per method of the main table (the targets of the table above): emotion trained and
    tested on anonymized speech against the original's; verification (the lowest EER), identification
    (the strongest identifier) and gender."""
    out = []
    ref = next((r for r in rows if r["method"] == "original"), None)
    for r in rows:
        if r.get("curve") is not None:
            continue
        threats = declared_attacks(r, columns([r]))
        orig = r["method"] == "original"
        util = next((c for c in columns([r]) if c.column.utility), None)
        if util is None:
            continue  # no utility judge: no verdict
        base = None if orig or ref is None else util.get(ref)
        out.append(Verdict(r["method"], REFERENCE if orig else PROTECTION, util.get(r), base,
                           util.label,
                           threats=threats, why="" if orig else f"voice anonymizer {r['anonymizer']['type']}"))
    return out


@report_guard
def write_voice_report(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("method",))
    order = ["original"]
    if (run_dir / "config.yaml").is_file():  # the config's order of methods

        order += [m["name"] for m in run_config_data(run_dir).get("methods", []) if isinstance(m, dict) and "name" in m]
    rows.sort(key=lambda r: (r.get("curve") or "", order.index(r["method"]) if r["method"] in order else len(order),
                             r.get("x") or 0))
    md = markdown(rows) + listening_md(run_dir)
    vs = verdicts(rows)
    full, block = with_verdict(md, vs)
    atomic_write(run_dir / "report.md", full)
    figs = (_figures(rows) + _spectrograms(run_dir)) if rows else []
    lead = verdict_figure(vs, run_dir)
    atomic_write(run_dir / "report.html", page("privemo: voice anonymization", md, figs, threat_model(rows),
                                               run_config(run_dir), examples_html(run_dir / "examples",
                                                                                  "Listening examples"),
                                               verdict=block, lead_figures=[lead] if lead else [], doc="voice.md"))
    return {"rows": len(rows), "report": str(run_dir / "report.md"), "checks": target_checks(rows)}
