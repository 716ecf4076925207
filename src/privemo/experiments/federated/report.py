"""The federated experiment's report, from its results alone: ``report.md``, ``report.html``,
``summary.json`` and figures (UAR per round, UAR against epsilon, confusion matrices)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from privemo.experiments.html import page as html_page
from privemo.experiments.html import run_config
from privemo.experiments.report import _png
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import PROTECTION, REFERENCE, Attack, Verdict, verdict_figure, with_verdict
from privemo.learners.federated.task import uar_of_confusion

DP_NOTE = ("- **DP** is sample-level DP-SGD inside each client (Opacus; epsilon per client over all its rounds, RDP "
           "accountant): it bounds what the updates reveal about any one utterance, not about the client's gender "
           "as such.")


def threat_model() -> str:
    """The update attack's threat model, from its declaration."""
    from privemo.evaluators.threat import describe

    return describe(("federated.updates",), "Threat model of the update attack:", [DP_NOTE])




def _ms(vals: list[Any]) -> dict[str, float] | None:
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std()), "n": int(len(v))} if len(v) else None


def _f(e: dict[str, float] | None) -> str:
    return f"{e['mean']:.3f} ± {e['std']:.3f}" if e else "-"


def _nanmean_rows(curves: list[list[Any]]) -> list[float | None]:
    """Per-round mean over folds of curves with gaps (None where the clients did not evaluate)."""
    arr = np.array([[np.nan if x is None else x for x in c] for c in curves], dtype=float)
    out: list[float | None] = []
    for col in arr.T:
        ok = col[np.isfinite(col)]
        out.append(float(ok.mean()) if len(ok) else None)
    return out


def summarize(rows: list[dict[str, Any]], order: list[str] | None = None) -> dict[str, Any]:
    """Means over folds; federations in ``order`` (the config's variant order), others after."""
    cen = {s: [r for r in rows if r.get("kind") == "centralised" and r.get("setting") == s]
           for s in ("dependent", "independent", "loso")}
    out: dict[str, Any] = {"labels": next((r["labels"] for r in rows if r.get("labels")), []), "centralised": {},
                           "federated": []}
    for s, rs in cen.items():
        if not rs:
            continue
        entry: dict[str, Any] = {"uar": _ms([r["uar"] for r in rs]), "folds": len(rs)}
        cm = np.sum([np.asarray(r["confusion"]) for r in rs], axis=0)
        entry["confusion"] = cm.tolist()
        entry["pooled_uar"] = uar_of_confusion(cm)
        if s == "loso":  # one run over all speakers: the spread is the speakers'
            entry["uar"] = {"mean": rs[0]["speaker_uar_mean"], "std": rs[0]["speaker_uar_std"], "n": 1}
        out["centralised"][s] = entry
    ind = out["centralised"].get("independent", {}).get("uar")
    variants: list[str] = []
    for r in rows:
        if r.get("kind") == "federated" and r["variant"] not in variants:
            variants.append(r["variant"])
    rank = {v: i for i, v in enumerate(order or [])}
    variants.sort(key=lambda v: rank.get(v, len(rank)))
    for v in variants:
        rs = sorted([r for r in rows if r.get("kind") == "federated" and r["variant"] == v], key=lambda r: r["fold"])
        curves = np.array([r["curve_server_uar"] for r in rs], dtype=float)
        mean_curve = curves.mean(0)
        e: dict[str, Any] = {"variant": v, "strategy": rs[0]["strategy"], "rounds": rs[0]["rounds"],
                             "fraction": rs[0]["fraction"], "local_epochs": rs[0]["local_epochs"],
                             "dp": rs[0].get("dp"), "folds": len(rs), "uar": _ms([r["uar"] for r in rs]),
                             "client_uar": _ms([r.get("client_uar") for r in rs]),
                             "seconds_per_round": _ms([r.get("seconds_per_round") for r in rs]),
                             "curve_server_uar": mean_curve.tolist(),
                             "curve_client_uar": _nanmean_rows([r["curve_client_uar"] for r in rs])}
        e["confusion"] = np.sum([np.asarray(r["confusion"]) for r in rs], axis=0).tolist()
        if any("epsilon" in r for r in rs):
            e["epsilon"] = max(r.get("epsilon", 0.0) for r in rs)
            e["delta"] = rs[0].get("delta")
        att = [r["attack"] for r in rs if r.get("attack") and "update_uar" in r["attack"]]
        if att:
            e["attack_update_uar"] = _ms([a["update_uar"] for a in att])
            e["attack_client_uar"] = _ms([a["client_uar"] for a in att])
            kinds = sorted({k for a in att for k in a["per_classifier"]})
            e["attack_per_classifier"] = {k: _ms([a["per_classifier"][k]["update_uar"] for a in att
                                                  if k in a["per_classifier"]]) for k in kinds}
        if ind:
            target = 0.95 * ind["mean"]
            e["target_uar"] = target
            hit = np.flatnonzero(mean_curve >= target)
            e["first_round_at_target"] = int(hit[0]) if len(hit) else None
            e["ratio_to_independent"] = e["uar"]["mean"] / ind["mean"] if e["uar"] else None
        out["federated"].append(e)
    return out


def markdown(s: dict[str, Any], run: str) -> str:
    c = s["centralised"]
    lines = [f"# Federated speech emotion recognition: {run}", ""]
    lines += ["## Centralised baselines (same model, features and training function)", "",
              "| setting | UAR (mean ± std over folds; LOSO: over speakers) | pooled UAR |", "|---|---|---|"]
    names = {"dependent": "speaker-dependent (70:30 of every client speaker)",
             "independent": "subject-independent (the federation's held-out speakers)",
             "loso": "subject-independent, leave-one-speaker-out (paper)"}
    for k in ("dependent", "independent", "loso"):
        if k in c:
            lines.append(f"| {names[k]} | {_f(c[k]['uar'])} | {c[k]['pooled_uar']:.3f} |")
    lines += ["", "## Federations (Flower simulation; one client per speaker)", "",
              "| variant | strategy | rounds | held-out UAR | clients' local-test UAR | x indep. | round at 0.95 x indep. "
              "| DP ε (δ) | gender attack on updates: per update / per client | s / round |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for e in s["federated"]:
        eps = f"{e['epsilon']:.2f} ({e['delta']:g})" if "epsilon" in e else "-"
        att = (f"{_f(e['attack_update_uar'])} / {_f(e['attack_client_uar'])}" if "attack_update_uar" in e else "-")
        ratio = f"{e['ratio_to_independent']:.3f}" if e.get("ratio_to_independent") else "-"
        at = e.get("first_round_at_target")
        lines.append(f"| {e['variant']} | {e['strategy']} | {e['rounds']} | {_f(e['uar'])} | {_f(e['client_uar'])} "
                     f"| {ratio} | {'-' if at is None else at} | {eps} | {att} | {_f(e['seconds_per_round'])} |")
    lines += ["", "Checks:"]
    ind, dep = c.get("independent", {}).get("uar"), c.get("dependent", {}).get("uar")
    for e in s["federated"]:
        if e["dp"] or not e["uar"]:
            continue
        if ind:
            ok = e["uar"]["mean"] >= 0.95 * ind["mean"]
            lines.append(f"- {e['variant']}: held-out UAR {e['uar']['mean']:.3f} vs 0.95 x centralised "
                         f"subject-independent {0.95 * ind['mean']:.3f}: {'reached' if ok else 'NOT reached'}")
        if dep and e["client_uar"]:
            ok = e["client_uar"]["mean"] >= dep["mean"]
            lines.append(f"- {e['variant']}: the paper's expectation \"no worse than the dependent trial\", like for "
                         f"like (speakers seen in training): clients' local-test UAR {e['client_uar']['mean']:.3f} vs "
                         f"centralised speaker-dependent {dep['mean']:.3f}: {'holds' if ok else 'does NOT hold'}")
        if dep:
            ok = e["uar"]["mean"] >= dep["mean"]
            lines.append(f"- {e['variant']}: the same expectation for unseen speakers: held-out UAR "
                         f"{e['uar']['mean']:.3f} vs centralised speaker-dependent {dep['mean']:.3f}: "
                         f"{'holds' if ok else 'does NOT hold'}")
    lines += ["", threat_model(), ""]
    if s["federated"] and s["federated"][0].get("attack_per_classifier"):
        lines += ["Attack per classifier (per-update UAR):", ""]
        for e in s["federated"]:
            if e.get("attack_per_classifier"):
                lines.append(f"- {e['variant']}: " + ", ".join(f"{k} {_f(v)}" for k, v in e["attack_per_classifier"].items()))
        lines.append("")
    lines.append("Chance UAR: emotion 1 / number of classes ({}), gender 0.5.".format(
        f"{1 / len(s['labels']):.3f}" if s["labels"] else "?"))
    return "\n".join(lines) + "\n"


def figures(s: dict[str, Any]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    if s["federated"]:
        fig, ax = plt.subplots(figsize=(7, 4))
        for e in s["federated"]:
            ax.plot(range(len(e["curve_server_uar"])), e["curve_server_uar"], label=f"{e['variant']} (held-out)")
        for k, style in (("independent", "--"), ("dependent", ":")):
            if k in s["centralised"]:
                ax.axhline(s["centralised"][k]["uar"]["mean"], ls=style, color="k", lw=1, label=f"centralised {k}")
        ax.set_xlabel("round")
        ax.set_ylabel("emotion UAR")
        ax.legend(fontsize=7)
        out.append(("Held-out speakers' UAR per round (mean over folds)", _png(fig)))
        plt.close(fig)
        dp = [e for e in s["federated"] if "epsilon" in e and e["uar"]]
        if dp:
            fig, ax = plt.subplots(figsize=(5, 3.5))
            dp = sorted(dp, key=lambda e: e["epsilon"])
            ax.plot([e["epsilon"] for e in dp], [e["uar"]["mean"] for e in dp], "o-", label="emotion UAR")
            if all("attack_update_uar" in e for e in dp):
                ax.plot([e["epsilon"] for e in dp], [e["attack_update_uar"]["mean"] for e in dp], "s--",
                        label="gender attack UAR")
            ax.set_xscale("log")
            ax.set_xlabel("client epsilon")
            ax.legend(fontsize=7)
            out.append(("UAR against epsilon (client-side DP-SGD)", _png(fig)))
            plt.close(fig)
    mats = [(f"centralised {k}", v["confusion"]) for k, v in s["centralised"].items()]
    mats += [(e["variant"], e["confusion"]) for e in s["federated"][:1]]
    if mats and s["labels"]:
        fig, axes = plt.subplots(1, len(mats), figsize=(3.2 * len(mats), 3.2))
        for ax, (title, cm) in zip(np.atleast_1d(axes), mats, strict=True):
            cm = np.asarray(cm, dtype=float)
            norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
            ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
            ax.set_title(title, fontsize=8)
            ax.set_xticks(range(len(s["labels"])), s["labels"], rotation=90, fontsize=6)
            ax.set_yticks(range(len(s["labels"])), s["labels"], fontsize=6)
        out.append(("Confusion matrices (rows: true emotion; summed over folds)", _png(fig)))
        plt.close(fig)
    return out


def verdicts(s: dict[str, Any]) -> list[Verdict]:
    """The centralised subject-independent model is the reference (every utterance pooled on a
    server); each federation keeps speech on its client, measured by held-out UAR against that
    reference and by the server's gender attack on the clients' updates."""
    ind = s["centralised"].get("independent", {}).get("uar")
    out = []
    if ind:
        out.append(Verdict("centralised (subject-independent)", REFERENCE, ind["mean"], emotion_label="emotion UAR",
                           why="all speech pooled on one server"))
    for e in s["federated"]:
        if not e["uar"]:
            continue
        threats = {}
        if e.get("attack_update_uar"):
            threats["gender"] = [Attack("the server's gender attack on the updates (worst case), per update",
                                        e["attack_update_uar"]["mean"], 0.5, 0.55)]
            if e.get("attack_client_uar"):
                threats["gender"].append(Attack("the server's gender attack, per client", e["attack_client_uar"]["mean"],
                                                0.5, 0.55))
        why = f"federated {e['strategy']}: speech stays on the client" + (
            f", client DP-SGD ε = {e['epsilon']:.2f}" if e.get("epsilon") else "")
        out.append(Verdict(e["variant"], PROTECTION, e["uar"]["mean"], ind["mean"] if ind else None, "emotion UAR",
                           threats=threats, why=why, reference_name="the centralised model"))
    return out


@report_guard
def write_federated_report(run_dir: str | Path) -> dict[str, Any]:
    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("kind",))
    order = None
    if (run_dir / "config.yaml").is_file():
        try:
            order = [v["name"] for v in run_config_data(run_dir)["variants"]]
        except (KeyError, TypeError):
            order = None
    s = summarize(rows, order)
    run = next((r["run"] for r in rows if "run" in r), run_dir.name)
    md = markdown(s, run)
    vs = verdicts(s)
    full, block = with_verdict(md, vs)
    lead = verdict_figure(vs, run_dir)
    atomic_write(run_dir / "summary.json", json.dumps(s, indent=1))
    atomic_write(run_dir / "report.md", full)
    page = html_page("privemo federated report", md, figures(s), threat_model(), run_config(run_dir), verdict=block,
                     lead_figures=[lead] if lead else [], doc="federated.md")
    atomic_write(run_dir / "report.html", page)
    return {"summary": s, "markdown": md, "html": run_dir / "report.html"}
