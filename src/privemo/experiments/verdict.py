"""The answer first: one verdict per protection, in words, at the top of every report page.

Each report writer turns its results into ``Verdict``s: what the row is (a protection, the
unprotected reference, or something that is *not* a protection, such as a feature set or a
normalisation), how much emotion it keeps against the unprotected original, and, per threat (face
identity, voice identity, gender, ...), the strongest of the attackers the run measured, against
chance and against a stated target. ``verdict_markdown`` writes the block, ``verdict_figure`` the
privacy-utility figure with every row on the same axes (chance marked, non-protections marked as
such). Both read only the verdicts, so every page kind says the same things the same way.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from privemo._files import atomic_path

PROTECTION = "protection"
REFERENCE = "reference"          # the unprotected original: what every protection is compared with
NOT_PROTECTION = "not a protection"

EMOTION_KEPT = 0.90  # the default utility target: emotion at least 0.9 x the original's


@dataclass(frozen=True)
class Attack:
    """One attacker's headline figure. ``lower_is_private`` for accuracies and UARs (the attacker
    wants them high); EERs are private when high. ``target``: the value a protection must reach."""

    attacker: str
    value: float
    chance: float
    target: float
    lower_is_private: bool = True
    pct: bool = True

    @property
    def met(self) -> bool:
        return self.value <= self.target + 1e-12 if self.lower_is_private else self.value >= self.target - 1e-12

    @property
    def excess(self) -> float:
        """How far the attacker gets past the target (> 0: not met); comparable across attackers of
        one threat because it is relative to each one's own target."""
        if self.lower_is_private:
            return self.value / max(self.target, 1e-9)
        return self.target / max(self.value, 1e-9)

    def fmt(self, v: float) -> str:
        return f"{100 * v:.1f}%" if self.pct else f"{v:.3f}"


@dataclass
class Verdict:
    """One row of the verdict block. ``emotion`` and ``original_emotion`` are the same utility figure
    (e.g. fused UAR) with and without the protection; ``threats`` maps a threat's name to the attackers
    measured for it (the strongest one is reported). ``why`` explains a non-protection."""

    name: str
    kind: str
    emotion: float | None
    original_emotion: float | None = None
    emotion_label: str = "emotion UAR"
    emotion_target: float = EMOTION_KEPT
    threats: dict[str, list[Attack]] = field(default_factory=dict)
    why: str = ""
    reference_name: str = "the original"

    @property
    def kept(self) -> float | None:
        if self.emotion is None or not self.original_emotion:
            return None
        return self.emotion / self.original_emotion

    def strongest(self, threat: str) -> Attack | None:
        attacks = [a for a in self.threats.get(threat, []) if a.value == a.value]
        return max(attacks, key=lambda a: a.excess) if attacks else None

    def targets(self) -> list[tuple[str, bool]]:
        """(what, met) for each target of a protection: emotion kept, then each threat."""
        out = []
        if self.kept is not None:
            out.append(("emotion", self.kept >= self.emotion_target - 1e-12))
        for t in self.threats:
            a = self.strongest(t)
            if a is not None:
                out.append((t, a.met))
        return out


def _attack_short(threat: str, a: Attack) -> str:
    rel = f" ({a.value / a.chance:.1f} x chance)" if a.lower_is_private and 0 < a.chance < 0.45 else ""
    return f"{threat}: *{a.attacker}* {a.fmt(a.value)}{rel}"


def _attack_words(threat: str, a: Attack) -> str:
    if a.lower_is_private and 0 < a.chance < 0.45:
        vs = f"{a.value / a.chance:.1f} x chance {a.fmt(a.chance)}"
    else:
        vs = f"chance {a.fmt(a.chance)}"
    aim = f"target {'≤' if a.lower_is_private else '≥'} {a.fmt(a.target)}"
    return f"{threat}: *{a.attacker}* {a.fmt(a.value)} ({vs}; {aim}: {'met' if a.met else '**not met**'})"


def verdict_lines(v: Verdict) -> str:
    name = f"**{v.name}**"
    if v.kind == REFERENCE:
        head = f"{name}: no protection, the reference" + (f" ({v.why})" if v.why else "") + "."
        if v.emotion is not None:
            head += f" {v.emotion_label} {100 * v.emotion:.1f}%."
        attacks = [_attack_short(t, a) for t in v.threats if (a := v.strongest(t))]
        tail = (" What the attackers get from unprotected data: " + "; ".join(attacks) + ".") if attacks else ""
        return head + tail
    if v.kind == NOT_PROTECTION:
        head = f"{name}: **not a protection**" + (f" ({v.why})" if v.why else "") + "."
        attacks = [_attack_short(t, a) for t in v.threats if (a := v.strongest(t))]
        if v.emotion is not None:
            head += f" {v.emotion_label} {100 * v.emotion:.1f}%."
        return head + ((" Attackers: " + "; ".join(attacks) + ".") if attacks else "")
    parts = []
    if v.kept is not None and v.emotion is not None and v.original_emotion is not None:
        ok = v.kept >= v.emotion_target - 1e-12
        parts.append(f"keeps **{v.kept:.2f} x** the {v.emotion_label} of {v.reference_name} ({100 * v.emotion:.1f}% against "
                     f"{100 * v.original_emotion:.1f}%; target ≥ {v.emotion_target:.2f} x: "
                     f"{'met' if ok else '**not met**'})")
    elif v.emotion is not None:
        parts.append(f"{v.emotion_label} {100 * v.emotion:.1f}%")
    parts += [_attack_words(t, a) for t in v.threats if (a := v.strongest(t))]
    met = v.targets()
    score = f" **{sum(ok for _, ok in met)} of {len(met)} targets met.**" if met else ""
    why = f" ({v.why})" if v.why else ""
    return f"{name}{why}: " + "; ".join(parts) + "." + score


def verdict_markdown(verdicts: Sequence[Verdict], intro: str = "") -> str:
    """The block that opens a report: one paragraph per row, protections first."""
    if not verdicts:
        return ""
    order = {PROTECTION: 0, REFERENCE: 1, NOT_PROTECTION: 2}
    lines = ["## Verdict", ""]
    if intro:
        lines += [intro, ""]
    for v in sorted(verdicts, key=lambda v: order.get(v.kind, 3)):
        lines += [f"- {verdict_lines(v)}"]
    lines += ["", "Each threat names the strongest of the attackers this run measured for it (who they are, "
              "what they see and what they train on: *Data and threat model* below). A target met here is a "
              "measurement on this corpus against these attackers, not a guarantee.", ""]
    return "\n".join(lines)


def with_verdict(md: str, verdicts: Sequence[Verdict], intro: str = "") -> tuple[str, str]:
    """``md`` with the verdict block after its title and first paragraph (before any table), and the
    block alone (for the page's verdict box)."""
    block = verdict_markdown(verdicts, intro)
    if not block:
        return md, ""
    cut = md.find("\n## ")
    cut = len(md) if cut < 0 else cut + 1
    return md[:cut].rstrip("\n") + "\n\n" + block + "\n" + md[cut:], block


def verdict_figure(verdicts: Sequence[Verdict], out_dir: Path | None = None,
                   title: str = "Privacy-utility: every row of this run on the same axes") -> tuple[str, str] | None:
    """One panel per threat: x = the strongest attacker's figure (chance dotted; EER panels are
    flipped so that right is always 'more private'), y = emotion kept (x original; 1 for the
    reference; dashed: the target). Protections as circles, the reference as a square, rows that are
    not protections as grey diamonds labelled so."""
    threats = list(dict.fromkeys(t for v in verdicts for t in v.threats if v.strongest(t)))
    if not threats:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(threats), figsize=(4.6 * len(threats), 3.9), squeeze=False)
    style = {PROTECTION: ("o", "tab:blue", "protection"), REFERENCE: ("s", "tab:red", "original (no protection)"),
             NOT_PROTECTION: ("D", "0.55", "not a protection (features, normalisation)")}
    handles: dict[str, Any] = {}
    for ax, threat in zip(axes[0], threats, strict=True):
        chance, lower, target = None, True, None
        for i, v in enumerate(verdicts):
            a = v.strongest(threat)
            if a is None:
                continue
            y = 1.0 if v.kind == REFERENCE else v.kept if v.kept is not None else v.emotion
            if y is None:
                continue
            marker, color, label = style.get(v.kind, style[PROTECTION])
            handles[label] = ax.scatter([a.value], [y], marker=marker, c=color, s=46, zorder=3)
            right = (a.value > 0.7) == lower  # the label goes inwards
            ax.annotate(v.name, (a.value, y), textcoords="offset points", ha="right" if right else "left",
                        xytext=(-5 if right else 5, 5 if i % 2 == 0 else -11), fontsize=7,
                        color="0.4" if v.kind == NOT_PROTECTION else "k")
            chance, lower, target = a.chance, a.lower_is_private, a.target
        if chance is not None:
            handles["chance"] = ax.axvline(chance, color="k", linestyle="dotted", linewidth=1)
        if target is not None:
            handles["where the attacker target is met"] = ax.axvspan(
                *((0, target) if lower else (target, 1.0)), color="tab:green", alpha=0.08)
        if any(v.kept is not None for v in verdicts):
            handles[f"emotion {EMOTION_KEPT:.2f} x original"] = ax.axhline(
                EMOTION_KEPT, color="tab:green", linestyle="dashed", linewidth=1)
        ax.set_xlim(-0.02, 1.02)
        if not lower:
            ax.invert_xaxis()
        ax.set_xlabel(f"{threat}: strongest attacker" + (" (lower = more private)" if lower else
                                                          " EER (higher = more private)"))
        ax.set_ylabel("emotion kept (x original)" if any(v.kept is not None for v in verdicts) else "emotion UAR")
    fig.legend(list(handles.values()), list(handles), fontsize=7, loc="lower center", ncol=3,
               bbox_to_anchor=(0.5, -0.12), frameon=False)
    fig.suptitle(title, fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    if out_dir is not None:
        with atomic_path(out_dir / "figure_verdict.png") as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return ("Privacy-utility (the verdict's figures: right / down is where an attacker wins)",
            base64.b64encode(buf.getvalue()).decode())


def declared_attacks(row: dict[str, Any], cols: list[Any]) -> dict[str, list[Attack]]:
    """The attacks of a results row, by threat, from its judges' declared columns
    (:func:`privemo.evaluators.judge.row_columns`): each attacker's figure, chance and target."""
    threats: dict[str, list[Attack]] = {}
    for c in cols:
        value = c.get(row)
        if c.column.threat is None or value is None:
            continue
        threats.setdefault(c.column.threat, []).append(Attack(
            c.column.attacker, value, c.column.chance_of(row), c.column.target_of(row),
            c.column.lower_is_private))
    return threats
