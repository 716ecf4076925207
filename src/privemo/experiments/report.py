"""Reports drawn from results rows only: tables (markdown, JSON, HTML) and figures.

``write_report(run_dir)`` reads ``results.jsonl`` and writes ``report.html`` (tables + figures
embedded), ``report.md`` and ``summary.json``, each atomically.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from privemo.experiments.store import atomic_write, read_results
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
        out.append(entry)
    _significance(out, rows)
    return out


def main_figure(entry: dict[str, Any]) -> str:
    return "accuracy" if entry.get("evaluator_type") == "speaker_id" else "uar"


def _significance(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Each variant against the reference (the first variant of the config), per evaluator: a paired
    t-test over the (fold, seed) units they share, Benjamini-Hochberg corrected over the run."""
    if not summary:
        return
    ref = min(summary, key=lambda e: _order(rows, e["variant"]))["variant"]
    tests = []
    for e in summary:
        if e["variant"] == ref:
            continue
        key = main_figure(e)
        a = {(r["fold"], r["seed"]): float(r[key]) for r in rows if r["variant"] == ref
             and r["evaluator"] == e["evaluator"] and r.get(key) is not None}
        b = {(r["fold"], r["seed"]): float(r[key]) for r in rows if r["variant"] == e["variant"]
             and r["evaluator"] == e["evaluator"] and r.get(key) is not None}
        units = sorted(set(a) & set(b))
        if len(units) >= 2:
            tests.append((e, paired_ttest([a[k] for k in units], [b[k] for k in units])))
    for (e, p), q in zip(tests, benjamini_hochberg([p for _, p in tests]), strict=True):
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


def markdown(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    run = rows[0]["run"] if rows else "?"
    corpus = rows[0]["corpus"] if rows else "?"
    synth = any(r.get("synthetic") for r in rows)
    lines = [f"# privemo run `{run}`", "",
             f"Corpus: **{corpus}**" + (" (SYNTHETIC demo data: invented voices and faces)" if synth else "")
             + f"; {len({(r['fold'], r['seed']) for r in rows})} fold x seed units per variant;"
             " speaker-independent folds.", "",
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
    ref = next((e["reference"] for e in summary if e.get("reference")), None)
    if ref:
        lines += ["", f"\\* differs from the reference variant `{ref}` (paired t-test over folds x seeds, "
                  "Benjamini-Hochberg q < 0.05)."]
    lines += ["", THREATS]
    return "\n".join(lines) + "\n"


THREATS = (
    "Threat models. *gender_attacker*: trained on the representations of the fold's training speakers "
    "with their gender, tested on the unseen test speakers; P = 1 - its UAR. *speaker_id*: closed set; "
    "the attacker has labelled items of every speaker and identifies held-out items of the same speakers. "
    "*emotion*: utility on unseen test speakers."
)


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
    fig.savefig(out_dir / "figure_overview.png", dpi=110, bbox_inches="tight")
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


def write_report(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    rows = read_results(run_dir)
    summary = summarize(rows)
    md = markdown(summary, rows)
    atomic_write(run_dir / "summary.json", json.dumps(summary, indent=1))
    atomic_write(run_dir / "report.md", md)
    figs = figures(summary, run_dir)
    body = [f"<pre style='white-space:pre-wrap'>{html.escape(md)}</pre>"]
    body += [f"<h3>{html.escape(t)}</h3><img src='data:image/png;base64,{b}'/>" for t, b in figs]
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>privemo report</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}</style></head><body>"
            + "\n".join(body) + "</body></html>")
    atomic_write(run_dir / "report.html", page)
    return {"summary": summary, "markdown": md, "html": run_dir / "report.html"}
