"""Attackers: evaluators with a stated threat model (who attacks, with what, trained on what)."""

from privemo.attacks.attribute import GenderAttacker, SpeakerIdentification
from privemo.attacks.membership import MembershipAttacker

__all__ = ["GenderAttacker", "MembershipAttacker", "SpeakerIdentification"]
