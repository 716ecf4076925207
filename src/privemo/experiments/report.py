"""Reports drawn from results rows only: tables (markdown, JSON, HTML) and figures.

``write_report(run_dir)`` reads ``results.jsonl`` and writes ``report.html`` (tables + figures
embedded), ``report.md`` and ``summary.json``, each atomically.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import atomic_path
from privemo.experiments.html import page as html_page
from privemo.experiments.html import run_config
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import (
    NOT_PROTECTION,
    PROTECTION,
    REFERENCE,
    Attack,
    Verdict,
    verdict_figure,
    with_verdict,
)
from privemo.metrics import benjamini_hochberg, mean_std, paired_ttest

FIGURES = ("uar", "accuracy", "uar_m", "uar_f", "privacy")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (variant, evaluator): mean and std over folds x seeds of each figure."""
    out = []
    keys = sorted({(r["variant"], r["evaluator"]) for r in rows}, key=lambda k: (_order(rows, k[0]), k[1]))
    for variant, ev in keys:
        rs = [r for r in rows if r["variant"] == variant and r["evaluator"] == ev]
        entry: dict[str, Any] = {"variant": variant, "evaluator": ev, "evaluator_type": rs[0].get("evaluator_type"),
                                 "units": len(rs), "chance": rs[0].get("chance")}
        for f in FIGURES:
            vals = [r[f] for r in rs if r.get(f) is not None]
            if vals:
                m, s = mean_std(vals)
                entry[f] = {"mean": m, "std": s, "per_fold": [r.get(f) for r in sorted(rs, key=_unit_order)]}
        labels = rs[0].get("labels")
        if labels and all(r.get("labels") == labels for r in rs):
            entry["labels"] = labels
            entry["confusion"] = np.sum([r["confusion"] for r in rs], axis=0).tolist()
        entry["wall_s"] = float(np.sum([r.get("wall_s", 0.0) for r in rs if r.get("evaluator") == ev]))
        avg = seed_average(rs)
        if avg:
            entry["seed_avg"] = avg
        out.append(entry)
    _significance(out, rows)
    return out


def seed_average(rs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Emotion figures of the seeds' predictions averaged (jaiswal-2020 trains three seeds and
    averages their class probabilities): per fold, the mean of the seeds' probabilities decides;
    mean and std over folds. ``None`` unless some fold has at least two seeds with probabilities."""
    from privemo.metrics import per_group_uar, uar

    by_fold: dict[int, list[dict[str, Any]]] = {}
    for r in rs:
        if r.get("proba") is not None:
            by_fold.setdefault(int(r["fold"]), []).append(r)
    per: dict[str, list[float]] = {"uar": [], "uar_m": [], "uar_f": []}
    seeds = set()
    for fold in sorted(by_fold):
        group = by_fold[fold]
        first = group[0]
        same = [r for r in group if r["y_true"] == first["y_true"] and r["proba_labels"] == first["proba_labels"]]
        if len(same) < 2:
            continue
        seeds |= {r["seed"] for r in same}
        labels = np.array(first["proba_labels"], dtype=object)
        pred = labels[np.mean([np.asarray(r["proba"]) for r in same], axis=0).argmax(1)].astype(str)
        y = np.array(first["y_true"], dtype=str)
        per["uar"].append(uar(y, pred))
        groups = per_group_uar(y, pred, np.array(first["groups"], dtype=object))
        for g in ("m", "f"):
            if g in groups:
                per[f"uar_{g}"].append(groups[g])
    if not per["uar"]:
        return None
    out: dict[str, Any] = {"seeds": sorted(seeds), "folds": len(per["uar"])}
    for f, vals in per.items():
        if vals:
            m, sd = mean_std(vals)
            out[f] = {"mean": m, "std": sd, "per_fold": vals}
    return out


def _pick(summary: list[dict[str, Any]], variant: str, etype: str) -> dict[str, Any] | None:
    return next((e for e in summary if e["variant"] == variant and e.get("evaluator_type") == etype), None)


def paper_table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per variant in the layout of jaiswal-2020 Tables 1-5: U (emotion UAR, seeds'
    predictions averaged where there are several), U(M), U(F), L (leakage), P (1 - worst-case
    gender attacker UAR), speaker identification accuracy, MI (membership UAR); each with its mean,
    std, and whether it differs significantly from the variant's reference (q < 0.05)."""
    private = {r["variant"] for r in rows if "private_checkpoint" in r or r.get("erasure")}
    out = []
    for variant in dict.fromkeys(e["variant"] for e in summary):
        row: dict[str, Any] = {"variant": variant, "private": variant in private}
        eps = [float(r["epsilon"]) for r in rows if r["variant"] == variant and r.get("epsilon") is not None]
        if eps:
            row["epsilon"] = {"mean": float(np.mean(eps)), "max": float(np.max(eps)),
                              "delta": next(r["delta"] for r in rows if r["variant"] == variant and r.get("delta"))}
        emo = _pick(summary, variant, "emotion")
        if emo:
            src = emo.get("seed_avg") or emo
            row["U_source"] = "seed_avg" if emo.get("seed_avg") else "per_seed"
            for col, f in (("U", "uar"), ("U(M)", "uar_m"), ("U(F)", "uar_f")):
                if src.get(f):
                    row[col] = {"mean": src[f]["mean"], "std": src[f]["std"]}
            if "U" in row and emo.get("q_vs_reference") is not None:
                row["U"]["significant"] = emo["q_vs_reference"] < 0.05
                ref = _pick(summary, emo["reference"], "emotion")
                row["U"]["decreased"] = bool(row["U"]["significant"] and ref and ref.get("uar")
                                             and emo["uar"]["mean"] < ref["uar"]["mean"])
        for col, etype, f in (("L", "leakage", "uar"), ("P", "gender_attacker", "privacy"),
                              ("speaker ID", "speaker_id", "accuracy"), ("MI", "membership", "uar")):
            e = _pick(summary, variant, etype)
            if e and e.get(f):
                row[col] = {"mean": e[f]["mean"], "std": e[f]["std"]}
                if e.get("q_vs_reference") is not None:
                    row[col]["significant"] = e["q_vs_reference"] < 0.05
                if etype == "gender_attacker":
                    row["attacker"] = {"uar": e["uar"]["mean"], "chance": e.get("chance")}
        out.append(row)
    return out


PAPER_COLUMNS = ("U", "U(M)", "U(F)", "L", "P", "speaker ID", "MI")


def paper_markdown(table: list[dict[str, Any]]) -> str:
    cols = [c for c in PAPER_COLUMNS if any(c in r for r in table)]
    if not any(c in cols for c in ("U", "P")):
        return ""

    def cell(v: dict[str, Any] | None) -> str:
        if not v:
            return "-"
        text = f"{v['mean']:.3f} ± {v['std']:.3f}"
        if v.get("decreased"):
            return f"*{text}*"
        return f"**{text}**" if v.get("significant") else text

    dp = any(r.get("epsilon") for r in table)
    lines = ["| variant | " + " | ".join(cols) + (" | DP ε |" if dp else " |"),
             "|---|" + "---|" * (len(cols) + int(dp))]
    for r in table:
        name = r["variant"] + (" (Priv)" if r["private"] else "")
        eps = (f" | {r['epsilon']['max']:.2f} (δ={r['epsilon']['delta']:g})" if r.get("epsilon") else " | -") if dp else ""
        lines.append(f"| {name} | " + " | ".join(cell(r.get(c)) for c in cols) + eps + " |")
    lines += ["", "U: emotion UAR on unseen speakers (" + ("seeds' predictions averaged" if any(
        r.get("U_source") == "seed_avg" for r in table) else "mean over folds x seeds") + "); U(M)/U(F): per "
              "gender; L: leakage, the model's own gender adversary on the test speakers (0.5 = chance); "
              "P: privacy metric, 1 - UAR of the strongest gender attacker (0.5 = best); speaker ID: "
              "closed-set accuracy; MI: membership identification UAR; DP ε: the largest over folds x seeds of "
              "the (ε, δ) spent by DP-SGD training (Opacus RDP accountant). **Bold**: differs significantly from "
              "the variant's reference; *italic*: utility significantly lower."]
    return "\n".join(lines) + "\n"


def main_figure(entry: dict[str, Any]) -> str:
    return "accuracy" if entry.get("evaluator_type") == "speaker_id" else "uar"


def _significance(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Each variant against its reference (the ``reference`` of its config, else the first variant),
    per evaluator: a paired t-test over the (fold, seed) units they share, Benjamini-Hochberg
    corrected over the run."""
    if not summary:
        return
    first = min(summary, key=lambda e: _order(rows, e["variant"]))["variant"]
    refs = {r["variant"]: r.get("reference") or first for r in rows}
    tests = []
    for e in summary:
        ref = refs.get(e["variant"], first)
        if e["variant"] == ref:
            continue
        key = main_figure(e)
        a = {(r["fold"], r["seed"]): float(r[key]) for r in rows if r["variant"] == ref
             and r["evaluator"] == e["evaluator"] and r.get(key) is not None}
        b = {(r["fold"], r["seed"]): float(r[key]) for r in rows if r["variant"] == e["variant"]
             and r["evaluator"] == e["evaluator"] and r.get(key) is not None}
        units = sorted(set(a) & set(b))
        if len(units) >= 2:
            tests.append((e, ref, paired_ttest([a[k] for k in units], [b[k] for k in units])))
    for (e, ref, p), q in zip(tests, benjamini_hochberg([p for _, _, p in tests]), strict=True):
        e["reference"], e["p_vs_reference"], e["q_vs_reference"] = ref, p, q


def _order(rows: list[dict[str, Any]], variant: str) -> int:
    """The variant's place in the config (rows carry it), else first appearance."""
    for r in rows:
        if r["variant"] == variant and r.get("variant_order") is not None:
            return int(r["variant_order"])
    return [r["variant"] for r in rows].index(variant)


def _unit_order(r: dict[str, Any]) -> tuple[int, int]:
    return (r.get("seed", 0), r.get("fold", 0))


def _fmt(entry: dict[str, Any], f: str) -> str:
    v = entry.get(f)
    if not v:
        return "-"
    mark = "*" if f == main_figure(entry) and entry.get("q_vs_reference", 1.0) < 0.05 else ""
    return f"{v['mean']:.3f} ± {v['std']:.3f}{mark}"


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]],
             table: list[dict[str, Any]] | None = None, threats: str = "") -> str:
    run = rows[0]["run"] if rows else "?"
    corpus = rows[0]["corpus"] if rows else "?"
    synth = any(r.get("synthetic") for r in rows)
    lines = [f"# privemo run `{run}`", "",
             f"Corpus: **{corpus}**" + (" (SYNTHETIC demo data: invented voices and faces)" if synth else "")
             + f"; {len({(r['fold'], r['seed']) for r in rows})} fold x seed units per variant;"
             " speaker-independent folds.", "", "## Every variant and evaluator (mean ± std over folds x seeds)", "",
             "| variant | evaluator | UAR | accuracy | UAR (m) | UAR (f) | privacy P | chance |",
             "|---|---|---|---|---|---|---|---|"]
    for e in summary:
        chance = f"{e['chance']:.3f}" if e.get("chance") else "-"
        lines.append(f"| {e['variant']} | {e['evaluator']} | {_fmt(e, 'uar')} | {_fmt(e, 'accuracy')} | "
                     f"{_fmt(e, 'uar_m')} | {_fmt(e, 'uar_f')} | {_fmt(e, 'privacy')} | {chance} |")
    lines += ["", "Per fold (UAR; speaker identification: accuracy):", "",
              "| variant | evaluator | per fold |", "|---|---|---|"]
    for e in summary:
        key = "accuracy" if e.get("evaluator_type") == "speaker_id" else "uar"
        if e.get(key):
            lines.append(f"| {e['variant']} | {e['evaluator']} | "
                         + ", ".join("-" if v is None else f"{v:.3f}" for v in e[key]["per_fold"]) + " |")
    refs = sorted({e["reference"] for e in summary if e.get("reference")})
    if refs:
        lines += ["", "\\* differs from the variant's reference (" + ", ".join(f"`{r}`" for r in refs)
                  + "; paired t-test over folds x seeds, Benjamini-Hochberg q < 0.05)."]
    paper = paper_markdown(paper_table(summary, rows) if table is None else table)
    if paper:
        lines += ["", "## In the layout of jaiswal-2020 Tables 1-5", "", paper]
    if threats:
        lines += ["", "## Data and threat model", "", threats]
    return "\n".join(lines) + "\n"


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def figures(summary: list[dict[str, Any]], out_dir: Path) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[tuple[str, str]] = []
    variants = list(dict.fromkeys(e["variant"] for e in summary))
    evaluators = list(dict.fromkeys(e["evaluator"] for e in summary))
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(variants), 3.6))
    width = 0.8 / max(1, len(evaluators))
    for j, ev in enumerate(evaluators):
        xs, ys, es, chances = [], [], [], []
        for i, v in enumerate(variants):
            e = next((x for x in summary if x["variant"] == v and x["evaluator"] == ev), None)
            key = "accuracy" if e and e.get("evaluator_type") == "speaker_id" else "uar"
            if e and e.get(key):
                xs.append(i + j * width)
                ys.append(e[key]["mean"])
                es.append(e[key]["std"])
                chances.append(e.get("chance") or 0)
        bars = ax.bar(xs, ys, width, yerr=es, capsize=3, label=ev)
        for x, c in zip(xs, chances, strict=True):
            ax.hlines(c, x - width / 2, x + width / 2, colors="k", linestyles="dotted")
        del bars
    ax.set_xticks([i + width * (len(evaluators) - 1) / 2 for i in range(len(variants))], variants, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("UAR (speaker ID: accuracy)")
    ax.set_title("Utility and leakage per variant (dotted: chance)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figs.append(("Utility and leakage", _png(fig)))
    with atomic_path(out_dir / "figure_overview.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    for e in summary:
        if "confusion" not in e or e.get("evaluator_type") != "emotion":
            continue
        cm = np.asarray(e["confusion"], dtype=float)
        norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(0.6 * len(cm) + 2, 0.6 * len(cm) + 1.5))
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(cm)), e["labels"], rotation=45, ha="right")
        ax.set_yticks(range(len(cm)), e["labels"])
        for a in range(len(cm)):
            for b in range(len(cm)):
                ax.text(b, a, f"{norm[a, b]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[a, b] > 0.5 else "black")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{e['variant']}: {e['evaluator']} (recall per row)")
        figs.append((f"Confusion: {e['variant']} / {e['evaluator']}", _png(fig)))
        plt.close(fig)
    return figs


def privacy_utility_figure(table: list[dict[str, Any]], out_dir: Path) -> tuple[str, str] | None:
    """Emotion UAR against the worst-case gender attacker's UAR, one point per variant; the
    non-private variants (no adversary) are marked as baselines."""
    points = [r for r in table if r.get("U") and r.get("attacker")]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    for r in points:
        x, y = r["attacker"]["uar"], r["U"]["mean"]
        marker, color = (("^", "tab:green") if r.get("epsilon") else ("o", "tab:blue") if r["private"]
                         else ("s", "tab:red"))
        ax.scatter([x], [y], marker=marker, s=46, c=color, zorder=3)
        ax.annotate(r["variant"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    chance = next((r["attacker"]["chance"] for r in points if r["attacker"].get("chance")), 0.5)
    ax.axvline(chance, color="k", linestyle="dotted", linewidth=1)
    ax.scatter([], [], marker="s", c="tab:red", label="non-private (no adversary)")
    ax.scatter([], [], marker="o", c="tab:blue", label="adversarial (Priv)")
    if any(r.get("epsilon") for r in points):
        ax.scatter([], [], marker="^", c="tab:green", label="DP-SGD")
    ax.set_xlabel("worst-case gender attacker UAR (lower = more private; dotted: chance)")
    ax.set_ylabel("emotion UAR")
    ax.set_title("Privacy-utility trade-off")
    ax.legend(fontsize=7, loc="best")
    with atomic_path(out_dir / "figure_privacy_utility.png") as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    out = ("Privacy-utility trade-off", _png(fig))
    plt.close(fig)
    return out


DP_EPSILON = ("- **DP epsilon**: the (epsilon, delta) bound of DP-SGD training for any attacker holding the "
              "released weights; it covers the training speakers' items only.")


def threat_model(config: dict[str, Any]) -> str:
    """The page's threat-model section, from the declarations of the evaluators the run's config names."""
    from privemo.evaluators.threat import describe

    types = [e.get("type") for e in config.get("evaluators", []) if isinstance(e, dict) and isinstance(e.get("type"), str)]
    dp = any(isinstance(v, dict) and isinstance(v.get("learner"), dict) and v["learner"].get("dp")
             for v in config.get("variants", []))
    try:
        return describe(types, "Folds are speaker-independent: a test speaker is never seen in training.",
                        [DP_EPSILON] if dp else [])
    except KeyError as exc:  # an evaluator of an older run that this code does not know
        return f"(threat model unavailable: {exc})"


SPKNORM_WHY = ("per-speaker normalisation: each item is z-scored with its own speaker's statistics, which takes "
               "out of these vectors what is constant per speaker, the cue these attackers read; the voice keeps it, "
               "the normaliser holds it, and no attacker with other data is measured here")


def verdicts(table: list[dict[str, Any]], summary: list[dict[str, Any]], rows: list[dict[str, Any]],
             config: dict[str, Any]) -> list[Verdict]:
    """A verdict per variant: adversarial (Priv) and DP-SGD variants are protections, measured against
    their reference variant; a reference of a protection is 'no protection'; every other variant
    (features, a normalisation, a representation trained for emotion only) is not a protection."""
    specs = {v.get("name"): v for v in config.get("variants", []) if isinstance(v, dict)}
    refs = {r["variant"]: r.get("reference") or r["variant"] for r in rows}
    by_name = {r["variant"]: r for r in table}
    protected = {r["variant"] for r in table if r["private"] or r.get("epsilon")}
    references = {refs.get(v) for v in protected}
    out = []
    for r in table:
        name = r["variant"]
        spec = specs.get(name, {})
        ref = by_name.get(refs.get(name, name))
        threats: dict[str, list[Attack]] = {}
        if r.get("attacker"):
            threats["gender"] = [Attack("gender attacker (worst case), UAR", r["attacker"]["uar"],
                                        r["attacker"].get("chance") or 0.5, 0.55)]
        sid = _pick(summary, name, "speaker_id")
        if sid and sid.get("accuracy") and sid.get("chance"):
            threats["identity"] = [Attack("closed-set identification", sid["accuracy"]["mean"],
                                          sid["chance"], 2 * sid["chance"])]
        if r.get("MI"):
            threats["membership"] = [Attack("membership identification, UAR", r["MI"]["mean"], 0.5, 0.55)]
        emotion = r["U"]["mean"] if r.get("U") else None
        original = ref["U"]["mean"] if ref and ref.get("U") else None
        if name in protected:
            lcfg = spec.get("learner") or {}
            erased = "+".join(sorted(lcfg.get("erase") or []))
            kind, why = PROTECTION, ("DP-SGD training" if r.get("epsilon") and not r["private"] else
                                     "adversarial training, jaiswal-2020 Priv" + (" with DP-SGD" if r.get("epsilon") else ""))
            if erased and not lcfg.get("adversaries") and lcfg.get("type") != "grl":
                why = f"post-hoc LEACE erasure of {erased} from a representation trained for emotion only"
            elif erased:
                why += f", LEACE erasure of {erased}"
            if any((a or {}).get("ensemble", 1) > 1 for a in lcfg.get("adversaries") or []) or lcfg.get("reinit_every"):
                why += ", re-initialised adversary ensembles"
        elif name in references:
            kind, why = REFERENCE, "a representation trained for emotion only" if spec.get("learner") else "features"
        else:
            kind = NOT_PROTECTION
            if spec.get("normalize") == "speaker":
                why = SPKNORM_WHY
            elif spec.get("learner"):
                why = "a representation trained for emotion only"
            else:
                why = "features"
        out.append(Verdict(name, kind, emotion, original, "emotion UAR", threats=threats, why=why,
                           reference_name=f"its reference {ref['variant']}" if ref else "the original"))
    return out


@report_guard
def write_report(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("variant", "evaluator"))
    summary = summarize(rows)
    table = paper_table(summary, rows)
    config = run_config_data(run_dir)
    threats = threat_model(config)
    md = markdown(summary, rows, table)  # the page puts the threat model in its own section
    vs = verdicts(table, summary, rows, config)
    full, block = with_verdict(markdown(summary, rows, table, threats), vs)
    figs = figures(summary, run_dir)
    lead = verdict_figure(vs, run_dir)
    pu = privacy_utility_figure(table, run_dir)
    if pu:
        figs.insert(1, pu)
    page = html_page("privemo report", md, figs, threats, run_config(run_dir), verdict=block,
                     lead_figures=[lead] if lead else [], doc="representations.md")
    atomic_write(run_dir / "summary.json", json.dumps(summary, indent=1))
    atomic_write(run_dir / "report.md", full)
    if paper_markdown(table):
        atomic_write(run_dir / "paper_table.json", json.dumps(table, indent=1))
    atomic_write(run_dir / "report.html", page)
    return {"summary": summary, "markdown": full, "html": run_dir / "report.html", "verdicts": vs}
