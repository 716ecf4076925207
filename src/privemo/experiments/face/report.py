"""The face evaluation's report: narula-2020's table per protocol (mean ± std over folds), the face
anonymizers side by side with their target checks, a privacy-utility figure and example strips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from privemo.evaluators.judge import Check, Column, RowColumn, row_columns, strongest_column, target_checks
from privemo.experiments.html import media_html, page, run_config
from privemo.experiments.report import _png
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import (
    PROTECTION,
    REFERENCE,
    Attack,
    Verdict,
    declared_attacks,
    verdict_figure,
    with_verdict,
)
from privemo.learners.narula import COLUMNS

GROUPS = ("face identity", "gender")  # the anonymizer table's column groups, in order (then utility, then speed)
IPS = RowColumn("", Column("images/s", "images_per_s", fmt="f0"))  # the row's own figure, not a judge's
PAPER_YALE = {"Face": 87.96, "Emotion": 44.61, "Emotion2Face": 78.44, "Hybrid2Emotion": 49.12, "Hybrid2Face": 1.00}


def _pm(values: list[float]) -> str:
    return f"{100 * np.mean(values):.1f} ± {100 * np.std(values):.1f}"


def narula_tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for protocol in ("paper", "subject"):
        rs = sorted((r for r in rows if r["protocol"] == protocol), key=lambda r: r["fold"])
        if not rs:
            continue
        entry: dict[str, Any] = {"protocol": protocol, "folds": len(rs),
                                 "id_chance": float(np.mean([r["id_chance"] for r in rs])),
                                 "emotion_chance": rs[0]["emotion_chance"],
                                 "seconds_per_iteration": float(np.mean([r["hybrid_seconds_per_iteration"] for r in rs]))}
        for c in COLUMNS:
            entry[c] = [r[c]["acc"] for r in rs]
        entry["chosen"] = [r["hybrid_iteration"] for r in rs if r.get("n_valid")]  # select: validation
        out.append(entry)
    return out


def narula_checks(tables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our targets: Hybrid2Face at most 10% (paper protocol; 1.5 x chance for the subject protocol, whose
    chance is higher), with Hybrid2Emotion at least 0.95 x Emotion."""
    checks = []
    for t in tables:
        h2f, h2e, emo = (float(np.mean(t[c])) for c in ("Hybrid2Face", "Hybrid2Emotion", "Emotion"))
        limit = 0.10 if t["protocol"] == "paper" else 1.5 * t["id_chance"]
        checks.append({"protocol": t["protocol"], "hybrid2face": h2f, "limit": limit, "privacy_ok": h2f <= limit,
                       "emotion_ratio": h2e / emo if emo else float("nan"), "utility_ok": h2e >= 0.95 * emo})
    return checks


def columns(anon: list[dict[str, Any]]) -> list[RowColumn]:
    """The anonymizer table's columns, from the declarations of the face judges the rows hold (those
    with a figure in some row): identity attackers, gender, utility, then the speed."""
    cols = [c for c in row_columns(anon, "face", GROUPS) if any(c.get(r) is not None for r in anon)]
    return [*cols, IPS]


def reference_row(anon: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((r for r in anon if r["method"] == "original"), None)


def anonymizer_checks(anon: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every method's declared targets (each judge's columns say them: pretrained dlib and scenario I
    at most 2 x chance, scenario II at most 3 x chance, each the strongest of its attackers; the
    expression figures at least 0.9 x the original's), against the original row."""
    ref, cols = reference_row(anon), columns(anon)
    return [{"method": r["method"], "checks": [c.__dict__ for c in target_checks(r, ref, cols)]}
            for r in anon if r["method"] != "original"]


def _check_text(c: Check) -> str:
    if c.utility:
        return f"{c.name} {c.value:.2f} x original (target ≥ {c.target:.2f}: {'met' if c.met else 'NOT met'})"
    sign, unit = "≤" if c.lower_is_private else "≥", "%" if c.fmt == "pct" else ""
    return (f"{c.name} {_f(c.value, c.fmt)}{unit} (target {sign} {_f(c.target, c.fmt)}{unit}: "
            f"{'met' if c.met else 'NOT met'})")


def _f(v: Any, fmt: str = "pct") -> str:
    if v is None or v != v:
        return "—"
    return f"{100 * v:.1f}" if fmt == "pct" else f"{v:.0f}" if fmt == "f0" else f"{v:.3f}"


def markdown(narula: list[dict[str, Any]], anon: list[dict[str, Any]], config: dict[str, Any]) -> str:
    lines = [f"# Face privacy: {config.get('name', '')}", "",
             f"Corpus `{config.get('corpus', {}).get('type')}`, aligned {config.get('size')}x{config.get('size')} "
             f"{config.get('color')} crops, emotions {config.get('emotions') or 'all labelled'}.", ""]
    tables = narula_tables(narula)
    if tables:
        lines += ["## narula-2020 (accuracy %, mean ± std over folds)", "",
                  "Threat model of the identity columns: the attacker holds the model's convolutional base "
                  "(what leaves the device) and labelled faces of the people to identify, and trains a fresh "
                  "fully-connected identifier on it.", "",
                  "| protocol | folds | " + " | ".join(COLUMNS) + " | identity chance | s / iteration |",
                  "|---|---|" + "---|" * len(COLUMNS) + "---|---|"]
        for t in tables:
            lines.append(f"| {t['protocol']} | {t['folds']} | " + " | ".join(_pm(t[c]) for c in COLUMNS)
                         + f" | {100 * t['id_chance']:.1f} | {t['seconds_per_iteration']:.1f} |")
        if config.get("corpus", {}).get("type") == "yale":
            lines.append("| narula-2020 (Yale, paper protocol) | 10 | " + " | ".join(f"{PAPER_YALE[c]:.2f}"
                                                                              for c in COLUMNS) + " | 6.7 | |")
        for t in tables:
            if t["chosen"]:
                lines.append(f"\n{t['protocol']}: the Hybrid's iteration chosen on validation faces of the training "
                             f"subjects, per fold: {', '.join(str(c) for c in t['chosen'])} (of "
                             f"{config.get('narula', {}).get('T', '?')})")
        lines += ["", "Protocols: `paper` = random folds over originals, every subject and emotion in training "
                  "(narula-2020 §4.2); `subject` = subject-independent, identity probed on unseen subjects "
                  "(half of each one's originals to train the probe, half to test).", ""]
        for c in narula_checks(tables):
            lines.append(f"- {c['protocol']}: Hybrid2Face {100 * c['hybrid2face']:.1f}% "
                         f"(target ≤ {100 * c['limit']:.1f}%: {'met' if c['privacy_ok'] else 'NOT met'}); "
                         f"Hybrid2Emotion / Emotion = {c['emotion_ratio']:.2f} (target ≥ 0.95: "
                         f"{'met' if c['utility_ok'] else 'NOT met'})")
        lines.append("")
    if anon:
        cols = columns(anon)
        lines += ["## Face anonymizers (accuracy %, mean over folds)", "",
                  "Who attacks, with what, trained on what (each judge's own declaration), in the section *Data "
                  "and threat model* below. In short: dlib = pretrained ResNet descriptor, gallery of the "
                  "attacker's original images, probes anonymized; I = identifier trained on original images, "
                  "tested on anonymized ones; II = identifier trained and tested on anonymized images (knows the "
                  "protection); fer = packaged FER2013 model on anonymized faces; expr CNN = trained and tested "
                  "on anonymized faces, identity folds (paper) or unseen subjects (subject); orig → prot = the "
                  "CNN trained on originals of the training subjects, tested on protected faces of unseen "
                  "subjects (the deployed model, unchanged). The strongest identity attacker of each row is in "
                  "bold.", "",
                  "| method | " + " | ".join(c.label for c in cols) + " |", "|---|" + "---|" * len(cols)]
        for r in anon:
            top, _ = strongest_column(r, "face identity", cols)
            cells = [_f(c.get(r), c.column.fmt) for c in cols]
            cells = [f"**{v}**" if top is not None and c.label == top.label and v != "—" else v
                     for c, v in zip(cols, cells, strict=True)]
            lines.append(f"| {r['method']} | " + " | ".join(cells) + " |")
        r0 = anon[0]
        lines += ["", f"{r0['n_subjects']} subjects (identity chance {100 * r0['id_chance']:.1f}%), "
                  f"{len(r0['emotions'])} emotions (chance {100 * r0['emotion_chance']:.1f}%), {r0['n_images']} "
                  f"images ({r0['n_originals']} originals), {r0['folds']} folds. images/s: transform_batch on "
                  "batches of 64 crops in this run.", ""]
        ref = reference_row(anon)
        for r in anon:
            if r["method"] != "original":
                lines.append(f"- {r['method']}: " + "; ".join(_check_text(c) for c in target_checks(r, ref, cols)))
        lines.append("")
    return "\n".join(lines)


def _figure(anon: list[dict[str, Any]]) -> str | None:
    if not anon:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = columns(anon)
    utility = next((c for c in cols if c.column.utility), None)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for r in anon:
        checks = {c.name: c.value for c in target_checks(r, None, cols)}
        s1, s2 = checks.get("scenario I", float("nan")), checks.get("scenario II", float("nan"))
        e = utility.get(r) if utility is not None else None
        if e is None:
            continue
        ax.scatter([s1], [e], marker="o")
        ax.scatter([s2], [e], marker="x", color=ax.collections[-1].get_facecolor()[0])
        ax.annotate(r["method"], (s1, e), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.axvline(anon[0]["id_chance"], ls=":", color="gray")
    ax.set_xlabel("identification accuracy (o scenario I, x scenario II; dotted: chance)")
    ax.set_ylabel("expression accuracy (unseen subjects)")
    ax.set_title("face anonymizers: privacy vs utility")
    out = _png(fig)
    plt.close(fig)
    return out


def threat_model(narula: list[dict[str, Any]], anon: list[dict[str, Any]]) -> str:
    """The page's threat-model section, from the declarations of narula-2020's probes and of the face
    judges the anonymizer rows hold."""
    from privemo.evaluators.judge import judges_present
    from privemo.evaluators.threat import describe

    keys = ["face.narula_probes"] if narula else []
    if anon:
        keys += [k for cls in judges_present(anon, "face") for k in cls.threats]
    return describe(dict.fromkeys(keys), "Folds are subject-independent; train and test faces never share an original.")


def verdicts(narula: list[dict[str, Any]], anon: list[dict[str, Any]]) -> list[Verdict]:
    """A verdict per face anonymizer (expression of a CNN trained and tested on protected faces of
    unseen subjects, against the original's; the strongest identifier of dlib, scenario I and II;
    gender) and per narula-2020 protocol (the Hybrid against the emotion-only model: Hybrid2Emotion
    against Emotion, Hybrid2Face against its target)."""
    out = []
    ref, cols = reference_row(anon), columns(anon)
    utility = next((c for c in cols if c.column.utility), None)
    for r in anon:
        orig = r["method"] == "original"
        value = utility.get(r) if utility is not None else None
        out.append(Verdict(r["method"], REFERENCE if orig else PROTECTION, float("nan") if value is None else value,
                           None if orig or ref is None or utility is None else utility.get(ref),
                           utility.column.check_name if utility else "expression accuracy (no utility judge)",
                           threats=declared_attacks(r, cols), why="" if orig else "face anonymizer"))
    for t, c in zip(tables := narula_tables(narula), narula_checks(tables), strict=True):
        emo, ch = float(np.mean(t["Emotion"])), t["id_chance"]
        out.append(Verdict(f"narula Emotion ({t['protocol']} protocol)", REFERENCE, emo,
                           emotion_label="emotion accuracy", why="the emotion model without adversary",
                           threats={"face identity": [Attack("identity probe on the representation",
                                                             float(np.mean(t["Emotion2Face"])), ch, c["limit"])]}))
        out.append(Verdict(f"narula Hybrid ({t['protocol']} protocol)", PROTECTION, float(np.mean(t["Hybrid2Emotion"])),
                           emo, "emotion accuracy", emotion_target=0.95, why="narula-2020 Algorithm 1",
                           reference_name="the emotion-only model",
                           threats={"face identity": [Attack("identity probe on the representation",
                                                             c["hybrid2face"], ch, c["limit"])]}))
    return out


@report_guard
def write_face_report(run_dir: str | Path) -> dict[str, Any]:

    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("part",))
    config = run_config_data(run_dir)
    narula = [r for r in rows if r.get("part") == "narula"]
    order = ["original"] + [m["name"] for m in ((config or {}).get("anonymizers") or {}).get("methods", [])]
    anon = sorted((r for r in rows if r.get("part") == "anonymizer"),
                  key=lambda r: order.index(r["method"]) if r["method"] in order else len(order))
    md = markdown(narula, anon, config or {})
    vs = verdicts(narula, anon)
    full, block = with_verdict(md, vs)
    atomic_write(run_dir / "report.md", full)
    lead = verdict_figure(vs, run_dir)
    fig = _figure(anon)
    figs = [("privacy vs utility", fig)] if fig else []
    examples = run_dir / "examples"
    extra = ""
    if examples.is_dir():
        extra = "<section><h2>Examples (one face per subject)</h2>" + "".join(
            media_html(examples / f"{m}.png", m) for m in [r["method"] for r in anon] if (examples / f"{m}.png").is_file()
        ) + "</section>"
    atomic_write(run_dir / "report.html", page("privemo: face privacy", md, figs, threat_model(narula, anon), run_config(run_dir),
                                               extra, verdict=block, lead_figures=[lead] if lead else [], doc="face.md"))
    tables = narula_tables(narula)
    return {"rows": len(rows), "report": str(run_dir / "report.md"), "narula": narula_checks(tables),
            "anonymizers": anonymizer_checks(anon)}
