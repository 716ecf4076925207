"""The audio-visual evaluation's report, from its results alone: ``report.md`` and a self-contained
``report.html`` (tables, figures, threat model, config, playable examples)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import numpy as np

from privemo.experiments.html import examples_html, page, run_config
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import (
    PROTECTION,
    REFERENCE,
    Verdict,
    declared_attacks,
    verdict_figure,
    with_verdict,
)

MODALITIES = (("face_fer", "face (fer, pretrained)"), ("face_cnn", "face (CNN)"), ("voice", "voice"),
              ("fused", "fused"), ("fused_tuned", "fused (calibrated, weight tuned)"))

THREAT_MODEL = """\
- **Data**: {corpus}: {n_clips} clips of {n_speakers} speakers, {folds} speaker-independent folds.{synthetic}
- **Emotion (utility)**: the face CNN and the voice model (logistic regression on speaker-normalised
  {features}) are trained on ORIGINAL clips of the other folds' speakers and tested on the fold's clips,
  original or anonymized (the deployed models meet anonymized data); fer is a pretrained FER2013 model,
  never trained here. Frame probabilities are averaged per clip; fusion is
  p = w p_face + (1 - w) p_voice with the face model `{fusion_face}`; a tuned w is chosen per fold by
  cross-validation inside its training speakers (never on its test speakers). UAR = balanced accuracy.
{attackers}- **Speed**: wall time of decoding, face detection + tracking, face anonymization, voice anonymization
  and encoding, one process, on this machine; RTF = processing time / clip duration.
"""


GROUPS = ("face identity", "voice identity", "speaker verification")  # the privacy table's column groups


def attackers(rows: list[dict[str, Any]] | None = None) -> str:
    """The attackers of the page, from the declarations of the judges the rows hold (every video judge
    without rows): face attackers per frame, per clip (frames averaged) and per speaker (all trial frames
    averaged); p = one-sided binomial test of the per-clip accuracy against chance."""
    from privemo.evaluators.judge import judges_present
    from privemo.evaluators.threat import describe

    keys = [k for cls in judges_present(rows or [], "video") for k in cls.threats if k != "video.emotion"]
    return describe(keys, "- **Attackers** (each speaker's clips split into enrolment and trial halves; face "
                    "attackers per frame, per clip and per speaker; p = one-sided binomial test of the per-clip "
                    "accuracy against chance):").replace("\n- **", "\n  - **")


def privacy_columns(rows: list[dict[str, Any]]) -> list[Any]:
    """The privacy table's columns: the declared figures of every attacking judge the rows hold."""
    from privemo.evaluators.judge import row_columns

    return [c for c in row_columns(rows, "video", GROUPS) if "video.emotion" not in _threats_of(c.judge)]


def _threats_of(key: str) -> tuple[str, ...]:
    from privemo.evaluators.judge import judges_present

    return next((cls.threats for cls in judges_present([], "video") if cls.key == key), ())


def _f(v: Any, pct: bool = True) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return f"{100 * v:.1f}" if pct else f"{v:.3g}"


def _uar(row: dict[str, Any], key: str) -> float | None:
    e = row.get("emotion", {}).get(key)
    return e["uar"] if e else None


def section5_table(rows: list[dict[str, Any]]) -> str:
    """ranade §5: emotion UAR per modality and fused, before (original) and after each anonymization."""
    keys = [k for k, _ in MODALITIES if any(r["emotion"].get(k) for r in rows)]
    head = "| modality | " + " | ".join(("original (before)" if r["method"] == "original" else f"{r['method']} (after)")
                                       for r in rows) + " |"
    lines = [head, "|" + "---|" * (len(rows) + 1)]
    for k in keys:
        name = dict(MODALITIES)[k]
        cells = []
        for r in rows:
            e = r["emotion"].get(k)
            w = "" if not e or "weight" not in e else (f" (w per fold {', '.join(str(v) for v in e['weights'].values())})"
                                                       if "weights" in e else f" (w={e['weight']:.1f})")
            cells.append("-" if not e else f"{100 * e['uar']:.1f}{w}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    chance = rows[0]["emotion"]["chance"]
    return "\n".join(lines) + f"\n\nEmotion UAR %, chance {100 * chance:.1f}; w = weight of the face.\n"


def privacy_table(rows: list[dict[str, Any]]) -> str:
    cols = privacy_columns(rows)
    lines = ["| method | " + " | ".join(c.label for c in cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        lines.append(f"| {r['method']} | " + " | ".join(_f(c.get(r), c.column.fmt == "pct") for c in cols) + " |")
    chance = 1.0 / rows[0]["n_speakers"] if rows and rows[0].get("n_speakers") else float("nan")
    return ("\n".join(lines) + f"\n\nIdentification accuracy % (chance {100 * chance:.1f}); EER % (50 = chance); "
            "R2 sim = mean resemblyzer cosine of a clip's track and its anonymized version (1 for the original).\n")


def significance_table(rows: list[dict[str, Any]]) -> str:
    """Per-clip identification above chance? The p-value each clip-level identifier stored beside its accuracy."""
    from privemo.evaluators.judge import column_value

    cols = [c for c in privacy_columns(rows) if c.column.threat and c.column.path.endswith(".clip")]
    if not cols:
        return ""
    lines = ["| method | " + " | ".join(c.label for c in cols) + " |", "|" + "---|" * (len(cols) + 1)]
    for r in rows:
        ps = [column_value(r.get(c.judge), c.column.path + "_p_above_chance") for c in cols]
        lines.append(f"| {r['method']} | " + " | ".join("-" if p is None else f"{p:.2g}" for p in ps) + " |")
    return "\n".join(lines) + "\n\np < 0.05: identified above chance (per clip, one-sided binomial test).\n"


def per_gender_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| method | modality | " + " | ".join(_groups(rows)) + " |", "|---|---|" + "---|" * len(_groups(rows))]
    for r in rows:
        for k, name in MODALITIES:
            e = r["emotion"].get(k)
            if e:
                lines.append(f"| {r['method']} | {name} | " + " | ".join(_f(e['per_gender'].get(g)) for g in _groups(rows))
                             + " |")
    return "\n".join(lines) + "\n"


def _groups(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({g for r in rows for g in r["emotion"]["fused"]["per_gender"]})


def speed_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| method | clips | frames | frames/s | RTF | decode s | detect+track s | face s | voice s | encode s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        b = r.get("batch") or {}
        if b:
            lines.append(f"| {r['method']} | {b['clips']} | {b['frames']} | {b['frames_per_s']} | {b['rtf']} | "
                         f"{b['decode_s']} | {b['detect_s']} | {b['face_s']} | {b['voice_s']} | {b['encode_s']} |")
    return "\n".join(lines) + "\n" if len(lines) > 2 else ""


def checks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's targets: fused >= the better single modality (original and every method; the
    weight tuned on validation where the run tuned it, else the fixed weight), dlib per-clip
    identification not above chance on anonymized clips, and each protection's declared privacy
    targets (the strongest attacker of each check, :func:`privemo.evaluators.judge.target_checks`)."""
    from privemo.evaluators.judge import target_checks

    out: dict[str, Any] = {}
    cols = privacy_columns(rows)
    for r in rows:
        e = r["emotion"]
        fused = e.get("fused_tuned") or e["fused"]
        best = max(e["face_fer"]["uar"], e["face_cnn"]["uar"], e["voice"]["uar"])
        out[r["method"]] = {"fused_ge_best_single": bool(fused["uar"] >= best - 1e-9), "fused": fused["uar"],
                            "fusion": "tuned" if e.get("fused_tuned") else f"w={e['fused']['weight']}",
                            "fixed_weight_fused": e["fused"]["uar"], "best_single": best}
        if "face_id" in r:
            out[r["method"]]["dlib_clip_at_chance"] = bool(r["face_id"]["dlib"]["clip_p_above_chance"] >= 0.05)
        if r["method"] != "original":
            out[r["method"]]["privacy"] = [{"check": c.name, "attacker": c.label, "value": c.value, "target": c.target,
                                            "met": c.met} for c in target_checks(r, None, cols)]
    return out


def markdown(rows: list[dict[str, Any]]) -> str:
    synthetic = any("synthetic" in str(r.get("corpus", "")) for r in rows)
    md = ["# Audio-visual anonymization (ranade): emotion from face and voice, and who it is\n"]
    if synthetic:
        md.append("**SYNTHETIC data**: invented talking faces and voices (privemo's demo corpus).\n")
    md += ["## Emotion recognition before and after anonymization (ranade §5)\n", section5_table(rows),
           "## Who it is: face and speaker attackers\n", privacy_table(rows),
           *(["### Above chance? (per-clip identification)\n", sig] if (sig := significance_table(rows)) else []),
           "## Emotion UAR per gender\n", per_gender_table(rows)]
    sp = speed_table(rows)
    if sp:
        md += ["## Anonymization speed (this machine)\n", sp]
    md += ["## Target checks\n"]
    for m, c in checks(rows).items():
        md.append(f"- {m}: fused ({c['fusion']}) {100 * c['fused']:.1f} vs best single {100 * c['best_single']:.1f} "
                  f"({'fused >= best' if c['fused_ge_best_single'] else 'fused BELOW best single'}; fixed weight "
                  f"{100 * c['fixed_weight_fused']:.1f})" + ("" if "dlib_clip_at_chance" not in c else
                                                            "; dlib per clip " + ("not above chance" if
                                                                                  c["dlib_clip_at_chance"] else
                                                                                  "ABOVE chance"))
                  + "".join(f"; {p['check']}: {100 * p['value']:.1f}% ({p['attacker']}; target "
                            f"{100 * p['target']:.1f}%: {'met' if p['met'] else 'NOT met'})" for p in c.get("privacy", [])))
    return "\n".join(md) + "\n"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def figures(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    # privacy-utility scatter: fused emotion UAR against the strongest face and voice identifier
    from privemo.evaluators.judge import strongest_column

    cols = privacy_columns(rows)
    kinds = [k for k in ("face", "voice") if any(c.column.threat == f"{k} identity" for c in cols)]
    fig, axes = plt.subplots(1, max(len(kinds), 1), figsize=(5 * max(len(kinds), 1), 4), squeeze=False)
    chance = 1.0 / rows[0]["n_speakers"]
    for ax, kind in zip(axes[0], kinds, strict=False):
        for r in rows:
            x = strongest_column(r, f"{kind} identity", cols)[1]
            y = r["emotion"]["fused"]["uar"]
            ax.scatter([x], [y], s=50, marker="s" if r["method"] == "original" else "o",
                       c="tab:red" if r["method"] == "original" else "tab:blue", zorder=3)
            ax.annotate(r["method"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.axvline(chance, color="k", linestyle="dotted", linewidth=1)
        ax.set_xlabel(f"strongest {kind} identifier, accuracy (dotted: chance)")
        ax.set_ylabel("fused emotion UAR")
        ax.set_xlim(0, 1.05)
        ax.set_title(f"privacy-utility: {kind}")
    out.append(("Privacy-utility across methods (lower x = more private)", _png(fig)))
    plt.close(fig)
    # per-group bars
    groups = _groups(rows)
    keys = [k for k, _ in MODALITIES[:4]]
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.6), squeeze=False)
    width = 0.8 / max(1, len(rows))
    for ax, g in zip(axes[0], groups, strict=True):
        for j, r in enumerate(rows):
            vals = [r["emotion"][k]["per_gender"].get(g, np.nan) for k in keys]
            ax.bar(np.arange(len(keys)) + j * width, vals, width, label=r["method"])
        ax.set_xticks(np.arange(len(keys)) + width * (len(rows) - 1) / 2, [dict(MODALITIES)[k] for k in keys],
                      fontsize=7)
        ax.axhline(rows[0]["emotion"]["chance"], color="k", linestyle="dotted", linewidth=1)
        ax.set_ylim(0, 1)
        ax.set_title(f"emotion UAR, gender {g}")
        ax.legend(fontsize=6)
    out.append(("Emotion UAR per gender and modality", _png(fig)))
    plt.close(fig)
    # fusion-weight curves
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for r in rows:
        curve = r["emotion"]["weight_curve"]
        xs = sorted(curve, key=float)
        ax.plot([float(x) for x in xs], [curve[x] for x in xs], marker="o", markersize=3, label=r["method"])
    ax.axvline(rows[0]["emotion"]["fused"]["weight"], color="k", linestyle="dotted", linewidth=1)
    ax.set_xlabel("fusion weight of the face (0 = voice only, 1 = face only; dotted: the weight used)")
    ax.set_ylabel("fused emotion UAR (test clips)")
    ax.legend(fontsize=7)
    ax.set_title("late fusion: UAR against the weight")
    out.append(("Fused UAR against the fusion weight (diagnostic: the weight is never chosen on test clips)", _png(fig)))
    plt.close(fig)
    # confusion matrices of the fused prediction
    labels = rows[0]["emotion"]["labels"]
    fig, axes = plt.subplots(1, len(rows), figsize=(3.3 * len(rows), 3.3), squeeze=False)
    for ax, r in zip(axes[0], rows, strict=True):
        cm = np.array(r["emotion"]["fused"]["confusion"], dtype=float)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=60, fontsize=6)
        ax.set_yticks(range(len(labels)), labels, fontsize=6)
        ax.set_title(r["method"], fontsize=8)
    out.append(("Confusion matrices of the fused prediction (rows: true, recall per row)", _png(fig)))
    plt.close(fig)
    return out


def verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    """A verdict per method: the fused emotion (tuned where the run tuned it) against the original's;
    face identification, voice identification (per clip and per speaker) and speaker verification."""
    out = []
    ref = next((r for r in rows if r["method"] == "original"), None)

    def fused(r: dict[str, Any]) -> float:
        return (r["emotion"].get("fused_tuned") or r["emotion"]["fused"])["uar"]

    cols = privacy_columns(rows)
    for r in rows:
        threats = declared_attacks(r, cols)
        orig = r["method"] == "original"
        label = "fused emotion UAR" + (" (weight tuned on training speakers)" if r["emotion"].get("fused_tuned") else "")
        out.append(Verdict(r["method"], REFERENCE if orig else PROTECTION, fused(r),
                           None if orig or ref is None else fused(ref), label, threats=threats,
                           why="" if orig else "face and voice anonymized in every frame and the track"))
    return out


@report_guard
def write_video_report(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("method",))
    config = run_config(run_dir)
    cfg = run_config_data(run_dir)
    order = ["original"] + [m["name"] for m in cfg.get("methods", []) if isinstance(m, dict) and "name" in m]
    rows.sort(key=lambda r: order.index(r["method"]) if r["method"] in order else len(order))
    corpus = (cfg or {}).get("corpus", {}).get("type", "?")
    for r in rows:
        r["corpus"] = corpus
    md = markdown(rows)
    vs = verdicts(rows)
    full, block = with_verdict(md, vs)
    atomic_write(run_dir / "report.md", full)
    lead = verdict_figure(vs, run_dir)
    r0 = rows[0]
    threat = THREAT_MODEL.format(attackers=attackers(rows), corpus=corpus, n_clips=r0["n_clips"], n_speakers=r0["n_speakers"], folds=r0["folds"],
                                 synthetic=" SYNTHETIC: invented people." if corpus == "synthetic" else "",
                                 features=(cfg or {}).get("emotion_features", "compare"),
                                 fusion_face=r0["emotion"]["fusion_face"])
    atomic_write(run_dir / "report.html", page("privemo: audio-visual anonymization", md, figures(rows), threat, config,
                                               examples_html(run_dir / "examples", "Viewing examples (original and "
                                                             "anonymized clips, with sound)"),
                                               verdict=block, lead_figures=[lead] if lead else [], doc="video.md"))
    return {"rows": len(rows), "report": str(run_dir / "report.md"), "checks": checks(rows)}
