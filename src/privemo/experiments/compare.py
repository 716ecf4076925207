"""Every protection of several runs on the same axes: ``privemo compare RUN_DIR... --out DIR``.

A voice anonymizer (``evaluate voice``), an adversarial or DP-SGD representation (``privemo run``), a
face method (``evaluate face``, ``vgan evaluate``), an audio-visual pair (``evaluate video``) and a
federation (``federated run``) are measured by different jobs; each job's report turns its rows into
verdicts (:mod:`privemo.experiments.verdict`). This page reads those verdicts from every run folder
given (their results only: nothing is re-run) and draws, per corpus, one figure with a panel per
threat: x = the strongest attacker that run measured for that threat (chance dotted; verification
EERs flipped so that right is always more private), y = the emotion the protection keeps against its
own run's unprotected reference. A filled marker meets that run's target for the threat, a hollow
one does not. Threats are named alike across jobs (speaker or face identification, verification,
gender, membership); each point keeps its own attacker, chance and target, listed in the table.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privemo.errors import ConfigError
from privemo.experiments.store import atomic_write, read_results, run_config_data
from privemo.experiments.verdict import NOT_PROTECTION, PROTECTION, REFERENCE, Verdict

# one name per threat across the jobs' verdicts
THREATS = {
    "voice verification": "speaker verification", "speaker verification": "speaker verification",
    "voice identification": "speaker identification", "voice identity": "speaker identification",
    "face identity": "face identification", "identity from the representation": "face identification",
    "gender": "gender", "membership": "membership",
}
ORDER = ("speaker identification", "speaker verification", "face identification", "gender", "membership")


@dataclass
class RunVerdicts:
    run_dir: Path
    name: str
    job: str  # voice | representation | face | vgan | video | federated
    corpus: str
    verdicts: list[Verdict]
    protocol: str


def job_of(run_dir: str | Path, rows: list[dict[str, Any]] | None = None) -> str:
    """Which job wrote a run folder (voice, representation, face, vgan, video, federated), from its
    results (``rows``, read here when not given); a folder without results, or with rows of no known
    job, is a ConfigError naming it."""
    run_dir = Path(run_dir)
    rows = read_results(run_dir) if rows is None else rows
    if not rows:
        raise ConfigError(f"{run_dir / 'results.jsonl'}: no results yet (run the experiment first)")
    from privemo.experiments.jobs import job_of_rows

    try:
        return job_of_rows(rows).name
    except ConfigError as exc:
        raise ConfigError(f"{run_dir / 'results.jsonl'}: {str(exc).split(': ', 1)[1]}") from None


def run_verdicts(run_dir: str | Path) -> RunVerdicts:
    """The verdicts a run folder's own report would open with, from its results and config alone."""
    run_dir = Path(run_dir)
    rows = read_results(run_dir)
    job = job_of(run_dir, rows)
    cfg = run_config_data(run_dir)
    corpus = str(((cfg or {}).get("corpus") or {}).get("type", "?"))
    folds = (cfg or {}).get("folds")
    from privemo.experiments.jobs import job as job_named

    try:
        vs = job_named(job).run_verdicts(rows, cfg or {})
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as exc:
        what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
        raise ConfigError(f"{run_dir / 'results.jsonl'}: rows do not have the shape a {job} report reads ({what})") from None
    protocol = f"{folds} speaker-independent folds" if isinstance(folds, int) else "its own split"
    if job == "vgan":
        protocol = f"chen-2018 split ({(cfg or {}).get('split', 'subject_expression')})"
    return RunVerdicts(run_dir, str((cfg or {}).get("name") or run_dir.name), job, corpus, vs, protocol)


def _canon(threat: str, job: str) -> str:
    if threat == "identity":  # the representation runner's closed-set identification
        return "speaker identification" if job in ("representation", "federated", "voice") else "face identification"
    return THREATS.get(threat, threat)


def points(runs: list[RunVerdicts]) -> list[dict[str, Any]]:
    """One point per (run, row, threat): what the figure draws and the table lists."""
    out = []
    for rv in runs:
        for v in rv.verdicts:
            for threat in v.threats:
                a = v.strongest(threat)
                if a is None:
                    continue
                y = 1.0 if v.kind == REFERENCE else v.kept
                out.append({"run": rv.name, "job": rv.job, "corpus": rv.corpus, "row": v.name, "kind": v.kind,
                            "why": v.why, "threat": _canon(threat, rv.job), "attacker": a.attacker, "value": a.value,
                            "chance": a.chance, "target": a.target, "lower_is_private": a.lower_is_private,
                            "met": a.met, "kept": y, "emotion": v.emotion, "emotion_label": v.emotion_label,
                            "emotion_met": None if v.kept is None else v.kept >= v.emotion_target - 1e-12})
    return out


def figure(pts: list[dict[str, Any]], corpus: str, out: Path | None = None) -> str | None:
    """The privacy-utility figure of one corpus (base64 PNG), every protection on the same axes."""
    pts = [p for p in pts if p["corpus"] == corpus and p["kept"] is not None]
    threats = [t for t in ORDER if any(p["threat"] == t for p in pts)]
    threats += sorted({p["threat"] for p in pts} - set(threats))
    if not threats:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = list(dict.fromkeys(p["run"] for p in pts))
    colors = {r: c for r, c in zip(runs, ("tab:blue", "tab:orange", "tab:purple", "tab:green", "tab:brown",
                                          "tab:pink", "tab:olive", "tab:cyan"), strict=False)}
    fig, axes = plt.subplots(1, len(threats), figsize=(4.8 * len(threats), 4.2), squeeze=False)
    kept = [p["kept"] for p in pts]
    ylim = (min(0.5, min(kept) - 0.05), max(1.05, max(kept) + 0.05))
    handles: dict[str, Any] = {
        f"{r} ({next(p['job'] for p in pts if p['run'] == r)})": plt.Line2D([], [], marker="o", linestyle="none",
                                                                          color=colors.get(r, "k"))
        for r in runs}
    for ax, threat in zip(axes[0], threats, strict=True):
        here = [p for p in pts if p["threat"] == threat]
        lower = here[0]["lower_is_private"]
        for i, p in enumerate(here):
            color = "0.55" if p["kind"] == NOT_PROTECTION else colors.get(p["run"], "k")
            marker = "s" if p["kind"] == REFERENCE else "D" if p["kind"] == NOT_PROTECTION else "o"
            ax.scatter([p["value"]], [p["kept"]], marker=marker, s=48, zorder=3, linewidths=1.4,
                       facecolors=color if (p["met"] or p["kind"] != PROTECTION) else "none", edgecolors=color)
            if p["kind"] != PROTECTION:  # the square (reference) and grey diamonds say it; the table names them
                continue
            right = (p["value"] > 0.75) == lower  # near the panel's right edge: the label goes left
            ax.annotate(p["row"], (p["value"], p["kept"]), textcoords="offset points", fontsize=6.5,
                        ha="right" if right else "left", xytext=(-6 if right else 6, 5 if i % 2 == 0 else -11))
        for chance in sorted({round(p["chance"], 4) for p in here}):
            handles["chance"] = ax.axvline(chance, color="k", linestyle="dotted", linewidth=1)
        handles["emotion 0.90 x its reference"] = ax.axhline(0.9, color="tab:green", linestyle="dashed", linewidth=1)
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(*ylim)
        if not lower:
            ax.invert_xaxis()
        ax.set_xlabel(f"{threat}: strongest attacker " + ("(lower = more private)" if lower else
                                                           "EER (higher = more private)"), fontsize=8)
        ax.set_ylabel("emotion kept (x its run's reference)", fontsize=8)
    handles["filled: the threat's target met; hollow: not met"] = plt.Line2D([], [], linestyle="none")
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="lower center", ncol=3,
               bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.suptitle(f"{corpus}: every protection of these runs on the same axes (labelled; square: a run's unprotected "
                 "reference; grey diamond: not a protection, named in the table)", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    if out is not None:
        atomic_write(out, buf.getvalue())
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def markdown(runs: list[RunVerdicts], pts: list[dict[str, Any]]) -> str:
    lines = ["# privemo: every protection on the same axes", "",
             "Each point is a row of one run's own verdict (nothing re-run here): its emotion kept against that "
             "run's unprotected reference, and per threat the strongest attacker that run measured. Runs differ "
             "in their folds and attackers (listed below), so compare them as measured, not as one experiment.",
             "", "## Runs", "", "| run | job | corpus | protocol | rows | folder |", "|---|---|---|---|---|---|"]
    for rv in runs:
        lines.append(f"| {rv.name} | {rv.job} | {rv.corpus} | {rv.protocol} | {len(rv.verdicts)} | {rv.run_dir.name} |")
    for corpus in dict.fromkeys(p["corpus"] for p in pts):
        lines += ["", f"## {corpus}", "",
                  "| run | row | what | emotion kept | threat | strongest attacker | figure | chance | target | met |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for p in sorted((p for p in pts if p["corpus"] == corpus), key=lambda p: (ORDER.index(p["threat"])
                        if p["threat"] in ORDER else len(ORDER), p["run"], p["row"])):
            kept = "1.00 (reference)" if p["kind"] == REFERENCE else "-" if p["kept"] is None else f"{p['kept']:.2f} x"
            aim = ("≤ " if p["lower_is_private"] else "≥ ") + _pct(p["target"])
            met = "-" if p["kind"] != PROTECTION else "met" if p["met"] else "**not met**"
            lines.append(f"| {p['run']} | {p['row']} | {p['kind'] if p['kind'] != PROTECTION else p['why'] or 'protection'} "
                         f"| {kept} | {p['threat']} | {p['attacker']} | {_pct(p['value'])} | {_pct(p['chance'])} | {aim} | {met} |")
    return "\n".join(lines) + "\n"


def write_comparison(run_dirs: list[str | Path], out: str | Path) -> dict[str, Any]:
    """Read every run's verdicts (a bad folder is named before anything is written), then write
    ``out/report.md``, ``report.html``, ``points.json`` and one ``figure_<corpus>.png`` per corpus."""
    from privemo._files import inside
    from privemo.experiments.html import page

    if not run_dirs:
        raise ConfigError("compare: name at least one run folder")
    out = Path(out)
    for d in run_dirs:
        if Path(d).resolve() == out.resolve():
            raise ConfigError(f"{out}: the output folder is one of the runs compared; choose another --out")
    runs = [run_verdicts(d) for d in run_dirs]
    pts = points(runs)
    if not pts:
        raise ConfigError("compare: these runs hold no verdict with an attacker to draw")
    md = markdown(runs, pts)
    figs = []
    for corpus in dict.fromkeys(p["corpus"] for p in pts):
        fig = figure(pts, corpus, inside(out, f"figure_{corpus}.png"))
        if fig:
            figs.append((f"{corpus}: privacy-utility, every protection of these runs", fig))
    from dataclasses import replace

    from privemo.experiments.verdict import verdict_markdown

    block = verdict_markdown([replace(v, name=f"{rv.name}: {v.name}") for rv in runs for v in rv.verdicts],
                             "Each run's own verdicts, side by side (run: row); each is measured against that run's "
                             "reference and attackers.")
    threat_notes = "\n".join(f"- **{rv.name}** ({rv.job}, {rv.corpus}, {rv.protocol}): the attackers of its own report "
                             f"({rv.run_dir / 'report.html'}), section *Data and threat model*." for rv in runs)
    atomic_write(out / "points.json", json.dumps(pts, indent=1))
    cut = md.find("\n## ")
    atomic_write(out / "report.md", md[:cut] + "\n\n" + block + md[cut:])
    atomic_write(out / "report.html", page("privemo: protections compared", md, (), threat_notes, verdict=block,
                                           lead_figures=figs, doc="threat-models.md"))
    return {"report": str(out / "report.md"), "points": len(pts), "runs": [rv.name for rv in runs],
            "figures": [str(out / f"figure_{c}.png") for c in dict.fromkeys(p["corpus"] for p in pts)]}
