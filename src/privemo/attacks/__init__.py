"""Attackers: evaluators with a stated threat model (who attacks, with what, trained on what)."""

from privemo.attacks.attribute import GenderAttacker, SpeakerIdentification

__all__ = ["GenderAttacker", "SpeakerIdentification"]
