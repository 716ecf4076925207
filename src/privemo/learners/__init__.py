"""Training recipes (learners): a learner's ``encode`` output is the representation that leaves the device."""

from privemo.learners.data import SeqData
from privemo.learners.standard import StandardLearner

__all__ = ["SeqData", "StandardLearner"]
