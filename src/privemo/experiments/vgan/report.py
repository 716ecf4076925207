"""The PPRL-VGAN run's report: chen-2018's Table 2 for this corpus (with the paper's figures beside
it), identity replacement rates, training time, target checks and the figures of §5.4-5.5."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from privemo.experiments.html import media_html, page, run_config
from privemo.experiments.store import atomic_write, read_results, report_guard, run_config_data
from privemo.experiments.verdict import PROTECTION, REFERENCE, Attack, Verdict, verdict_figure, with_verdict

PAPER = {  # chen-2018 Table 2: identification FERG / MUG, expression FERG / MUG (%)
    "unconstrained": (100.0, 100.0, 100.0, 87.90), "random": (16.67, 12.50, 14.29, 14.29),
    "I": (17.01, 12.80, 93.02, 82.33), "II": (28.30, 22.08, 95.00, 85.14), "III": (22.42, 20.62, 100.00, 87.58),
}
FIGURES = {
    "replacement": "Identity replacement: each row an input test face, then its synthesised version under every identity code "
                   "(at most 16, evenly spaced)",
    "synthesis": "Synthesis without an input image: f ~ N(0, I), one column per identity code (at most 16, evenly spaced)",
    "left_out": "Left-out expression: faces of other subjects (top), decoded with the left-out subject's code (middle), "
                "the left-out subject's real faces of that expression, never seen in training (bottom)",
    "morphing": "Expression morphing (eq. 7): first and last are real faces of one subject; between, "
                "(1 - a) f(I1) + a f(I2) decoded with the subject's code",
    "completion": "Image completion: original, eyes-and-nose mask, completed, mouth mask, completed",
}
LABELS = {"unconstrained": "Privacy unconstrained", "I": "Attack scenario I", "II": "Attack scenario II",
          "III": "Attack scenario III"}


def _p(v: float | None) -> str:
    return "—" if v is None else f"{100 * v:.1f}"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def get(scenario: str, attacker: str) -> dict[str, Any] | None:
        return next((r for r in rows if r.get("scenario") == scenario and r.get("attacker") == attacker), None)

    table = [r for r in rows if r.get("scenario") in LABELS]
    worst3 = {}
    for rep in ("sampled", "mean"):
        s3 = [r for r in table if r["scenario"] == "III" and r.get("representation", "mean") == rep]
        if s3:
            worst3[rep] = max(s3, key=lambda r: r["identification"]["acc"])
    unc, s1, s2 = get("unconstrained", "cnn"), get("I", "cnn"), get("II", "cnn")
    out: dict[str, Any] = {"table": table, "worst_III": worst3, "training": next(
        (r for r in rows if r.get("unit") == "training"), None),
        "replacement": [r for r in rows if r.get("scenario") == "replacement"]}
    if unc and s1 and s2:
        chance = unc["id_chance"]
        out["checks"] = [
            {"what": "scenario I identification ≤ chance + 5 points", "value": s1["identification"]["acc"],
             "limit": chance + 0.05, "ok": s1["identification"]["acc"] <= chance + 0.05},
            {"what": "scenario II identification ≤ chance + 15 points", "value": s2["identification"]["acc"],
             "limit": chance + 0.15, "ok": s2["identification"]["acc"] <= chance + 0.15},
            {"what": "scenario I expression ≥ 0.9 x privacy-unconstrained", "value": s1["expression"]["acc"],
             "limit": 0.9 * unc["expression"]["acc"], "ok": s1["expression"]["acc"] >= 0.9 * unc["expression"]["acc"]},
        ]
    return out


def markdown(rows: list[dict[str, Any]], config: dict[str, Any]) -> str:
    s = summary(rows)
    corpus = (config.get("corpus") or {}).get("type", "?")
    lines = [f"# PPRL-VGAN: {config.get('name', '')}", "",
             f"Corpus `{corpus}`, {config.get('size')}x{config.get('size')} {config.get('color')} crops; "
             f"{100 * (1 - float(config.get('test_fraction', 0.15))):.0f} / {100 * float(config.get('test_fraction', 0.15)):.0f} "
             "split of each subject's images of each expression (chen-2018 §5.1); seed "
             f"{config.get('seed')}.", ""]
    tr = s["training"]
    if tr:
        lines += [f"Training: {tr['iterations']} iterations (1 discriminator + {config.get('model', {}).get('g_steps', 2)} "
                  f"generator updates each, batch {config.get('model', {}).get('batch')}) in {tr['seconds'] / 60:.1f} min "
                  f"on {tr['threads']} threads ({tr['images_per_s']:.0f} images/s through the networks), "
                  f"{tr['train_images']} training images (mirrored copies included).", ""]
    if s["table"]:
        r0 = s["table"][0]
        lines += ["## Identification and expression recognition (accuracy %, chen-2018 Table 2)", "",
                  "Threat models: I = identifier trained on ORIGINAL training images, tested on the synthesised "
                  "versions of every test image under every identity code; II = trained and tested on synthesised "
                  "images (knows the protection); III = trained and tested on f(I): `f sampled` = a draw of the "
                  "randomized encoder (what the model releases), `f mean` = the encoder's mean output (an attacker "
                  "who runs the encoder itself). cnn = the "
                  "discriminator's structure with one head (as in the paper); dlib = pretrained ResNet descriptor, "
                  "gallery of original training images. Expression: a classifier of the same kind, trained on what "
                  "that attacker has.", "",
                  "| scenario | attacker | identification | expression | paper FERG id / expr | paper MUG id / expr |",
                  "|---|---|---|---|---|---|"]

        def paper(key: str) -> list[str]:
            v = PAPER[key]
            return [f"{v[0]:.2f} / {v[2]:.2f}", f"{v[1]:.2f} / {v[3]:.2f}"]

        order = {"unconstrained": 0, "I": 2, "II": 3, "III": 4}
        done_random = False
        reps = {"sampled": 0, "mean": 1}
        for r in sorted(s["table"], key=lambda r: (order[r["scenario"]], reps.get(r.get("representation", ""), 0),
                                                   r["attacker"])):
            if order[r["scenario"]] > 0 and not done_random:
                lines.append("| Random guess | — | " + _p(r0["id_chance"]) + " | " + _p(r0["expression_chance"])
                             + " | " + " | ".join(paper("random")) + " |")
                done_random = True
            e = r.get("expression")
            label = LABELS[r["scenario"]] + (f", f {r['representation']}" if r.get("representation") else "")
            lines.append(f"| {label} | {r['attacker']} | {_p(r['identification']['acc'])} | "
                         f"{_p(e['acc']) if e else '—'} | " + " | ".join(paper(r["scenario"])) + " |")
        for rep, w in s["worst_III"].items():
            lines.append(f"| Attack scenario III, f {rep}, worst case | {w['attacker']} | "
                         f"{_p(w['identification']['acc'])} | {_p(w['expression']['acc'])} | | |")
        lines += ["", f"{r0['n_train']} training and {r0['n_test']} test images; identity chance "
                  f"{_p(r0['id_chance'])}%, expression chance {_p(r0['expression_chance'])}%.", ""]
    if s["replacement"]:
        lines += ["## Identity replacement", ""]
        for r in s["replacement"]:
            who = "the model's own D2" if r["attacker"] == "D2" else "the scenario-I identifier (trained on originals)"
            lines.append(f"- {who} names the target identity of {_p(r['target_identity']['acc'])}% of replaced "
                         f"test faces (chance {_p(r['id_chance'])}%).")
        lines.append("")
    if s.get("checks"):
        lines += ["## Targets", ""]
        for c in s["checks"]:
            lines.append(f"- {c['what']}: {_p(c['value'])}% (limit {_p(c['limit'])}%): {'met' if c['ok'] else 'NOT met'}")
        lines.append("")
    return "\n".join(lines)


def threat_model() -> str:
    """The page's threat-model section, from the attackers' declarations."""
    from privemo.evaluators.threat import describe

    return describe(("vgan.scenario_I", "vgan.scenario_II", "vgan.scenario_III"),
                    "chen-2018's attack scenarios, on held-out test faces of the training identities:")

def verdicts(rows: list[dict[str, Any]]) -> list[Verdict]:
    """The privacy-unconstrained classifiers on original faces (the reference) and PPRL-VGAN's
    synthesised faces: expression kept under scenario I against the unconstrained expression
    classifier; identity from the synthesised faces (scenarios I and II, with the targets of the
    checks above) and from the released representation (scenario III, worst case)."""
    table = [r for r in rows if r.get("scenario") in LABELS]
    unc = next((r for r in table if r["scenario"] == "unconstrained" and r["attacker"] == "cnn"), None)
    if unc is None:
        return []
    ch = unc["id_chance"]

    def exp(r: dict[str, Any] | None) -> float | None:
        return (r.get("expression") or {}).get("acc") if r else None

    out = [Verdict("original faces", REFERENCE, exp(unc), emotion_label="expression accuracy",
                   why="privacy-unconstrained classifiers",
                   threats={"face identity": [Attack("identity CNN", unc["identification"]["acc"], ch, ch + 0.05)]})]
    ids = []
    for r in table:
        name = f"scenario {r['scenario']} {r['attacker']}" + (f", f {r['representation']}" if r.get("representation") else "")
        if r["scenario"] == "I":
            ids.append(Attack(name, r["identification"]["acc"], ch, ch + 0.05))
        elif r["scenario"] == "II":
            ids.append(Attack(name + " (informed)", r["identification"]["acc"], ch, ch + 0.15))
    rep = [Attack(f"scenario III {r['attacker']}, f {r.get('representation', 'mean')}", r["identification"]["acc"],
                  ch, 2 * ch) for r in table if r["scenario"] == "III"]
    s1 = next((r for r in table if r["scenario"] == "I" and r["attacker"] == "cnn"), None)
    threats = {"face identity": ids}
    if rep:
        threats["identity from the representation"] = rep
    out.append(Verdict("PPRL-VGAN synthesised faces", PROTECTION, exp(s1), exp(unc),
                       "expression accuracy (scenario I classifier)", threats=threats,
                       why="identity replaced, expression kept (chen-2018)",
                       reference_name="the privacy-unconstrained classifier"))
    return out


@report_guard
def write_vgan_report(run_dir: str | Path) -> dict[str, Any]:

    run_dir = Path(run_dir)
    rows = read_results(run_dir, required=("unit",))
    config = run_config_data(run_dir)
    md = markdown(rows, config or {})
    figs = run_dir / "figures"
    if figs.is_dir():
        md += "\n## Figures\n\n" + "".join(f"- {FIGURES[n]}: figures/{n}.png\n" for n in FIGURES if (figs / f"{n}.png").is_file())
    vs = verdicts(rows)
    full, block = with_verdict(md, vs)
    atomic_write(run_dir / "report.md", full)
    lead = verdict_figure(vs, run_dir)
    extra = "".join(media_html(figs / f"{name}.png", caption, "image-rendering:pixelated;max-width:100%;width:900px;height:auto")
                    for name, caption in FIGURES.items()
                    if (figs / f"{name}.png").is_file())
    atomic_write(run_dir / "report.html", page("privemo: PPRL-VGAN", md, (), threat_model(), run_config(run_dir),
                                               f"<section class='wide'><h2>Figures</h2>{extra}</section>" if extra
                                               else "", verdict=block, lead_figures=[lead] if lead else [], doc="vgan.md"))
    return {"rows": len(rows), "report": str(run_dir / "report.md"), **{k: v for k, v in summary(rows).items()
                                                                       if k in ("checks",)}}
