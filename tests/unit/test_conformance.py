"""The public contract suite (privemo.testing.check_component) over every registered component, and
proof that each contract fails a component that breaks it."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from privemo import registry
from privemo.anonymize.base import VoiceAnonymizer
from privemo.errors import CorpusError
from privemo.registry import names
from privemo.testing import KINDS, ContractError, check_component

EVERY = [(kind, name) for kind in KINDS for name in names(kind)]


@pytest.mark.parametrize(("kind", "name"), EVERY, ids=[f"{k}-{n}" for k, n in EVERY])
def test_every_registered_component_keeps_its_contracts(kind, name):
    ran = check_component(kind, name)
    assert ran and ("config round trip" in ran or kind == "corpus")


def test_every_kind_has_components():
    assert {k for k, _ in EVERY} == set(KINDS)


@contextlib.contextmanager
def registered(kind, name, obj):
    registry.register(kind, name)(obj)
    try:
        yield name
    finally:
        registry._REGISTRY[kind].pop(name, None)


@dataclass
class _Shorter(VoiceAnonymizer):
    name: ClassVar[str] = "contract_shorter"
    gain: float = 0.5

    def transform(self, clip):  # skips the base's length guard: half the samples
        out = super().transform(clip)
        return type(out)(out.audio[: len(out.audio) // 2], out.sr, out.speaker, out.key)

    def _transform(self, x, sr, clip):
        return x * self.gain


@dataclass
class _Random(VoiceAnonymizer):
    name: ClassVar[str] = "contract_random"

    def _transform(self, x, sr, clip):
        return x * np.random.uniform(0.5, 0.9)  # global randomness: not per key


@dataclass
class _HiddenParam(VoiceAnonymizer):
    name: ClassVar[str] = "contract_hidden"
    alpha: float = 0.8

    def config(self):
        return {"type": self.name, "seed": self.seed}  # alpha left out: a resume could not tell

    def _transform(self, x, sr, clip):
        return x * self.alpha


@pytest.mark.parametrize(("cls", "contract"), [(_Shorter, "media"), (_Random, "determinism per key"),
                                               (_HiddenParam, "config")])
def test_a_broken_anonymizer_is_caught(cls, contract):
    with registered("anonymizer", cls.name, cls), pytest.raises(ContractError, match=f"contract '{contract}'"):
        check_component("anonymizer", cls.name)


def test_a_loader_that_accepts_an_empty_folder_is_caught():
    from privemo.corpora.manifest import Manifest

    def lenient(root, skip_bad: bool = False):
        from pathlib import Path

        if not Path(root).is_dir():
            raise CorpusError(root, "corpus folder does not exist")
        return Manifest([])

    with registered("corpus", "contract_lenient", lenient), pytest.raises(ContractError, match="empty folder"):
        check_component("corpus", "contract_lenient")


def test_an_evaluator_with_a_rate_out_of_range_is_caught():
    from privemo.evaluators.base import Evaluator

    class Overshoot(Evaluator):
        name = "contract_overshoot"

        def evaluate(self, train, test):
            return {"uar": 1.5, "chance": 0.5}

    with registered("evaluator", Overshoot.name, Overshoot), pytest.raises(ContractError, match="ranges"):
        check_component("evaluator", Overshoot.name)


def test_a_users_own_component_passes_with_its_own_parameters():
    @dataclass
    class Gain(VoiceAnonymizer):
        name: ClassVar[str] = "contract_gain"
        gain: float = 0.5

        def _transform(self, x, sr, clip):
            return x * self.gain

    with registered("anonymizer", Gain.name, Gain):
        assert "determinism per key" in check_component("anonymizer", Gain.name, {"gain": 0.25})


@pytest.mark.parametrize("name", names("evaluator"))
def test_every_evaluator_declares_its_threat_model(name):
    from privemo.evaluators.threat import ThreatModel, declared

    tm = declared(name)
    assert isinstance(tm, ThreatModel) and tm.role in ("attack", "utility")
    assert all(getattr(tm, f).strip() for f in ("who", "sees", "trains_on", "figure"))


def test_report_threat_sections_are_the_declarations_of_the_attackers_used():
    from privemo.evaluators.threat import declared
    from privemo.experiments.report import threat_model
    from privemo.experiments.voice.report import threat_model as voice_threat_model

    text = threat_model({"evaluators": [{"type": "emotion"}, {"type": "gender_attacker"}],
                         "variants": [{"name": "dp", "learner": {"type": "standard", "dp": {"noise_multiplier": 1}}}]})
    assert declared("gender_attacker").trains_on in text and declared("emotion").sees in text
    assert declared("speaker_id").sees not in text and "DP epsilon" in text  # only what the run used
    voice = voice_threat_model([{"method": "original", "verification": {}, "emotion": {}}])  # the judges it ran
    assert declared("voice.semi_lda_verification").markdown() in voice and declared("voice.emotion").markdown() in voice
    assert declared("voice.gender").markdown() not in voice
    every = voice_threat_model()  # without rows: every registered voice judge
    assert all(declared(k).markdown() in every for k in ("voice.gender", "voice.finetuned", "voice.informed_id"))


def test_every_report_kind_writes_its_threat_model_from_declarations():
    from privemo.evaluators.threat import declared
    from privemo.experiments.face.report import threat_model as face
    from privemo.experiments.federated.report import threat_model as federated
    from privemo.experiments.vgan.report import threat_model as vgan
    from privemo.experiments.video.report import attackers

    both = face([{"part": "narula"}], [{"method": "original", "scenario": {}, "expression_cnn": {}}])
    assert declared("face.scenario_II").markdown() in both and declared("face.narula_probes").trains_on in both
    only_narula = face([{"part": "narula"}], [])  # the judges a run used
    assert declared("face.narula_probes").trains_on in only_narula and declared("face.dlib").sees not in only_narula
    assert declared("vgan.scenario_III").markdown() in vgan()
    assert declared("federated.updates").markdown() in federated()
    assert all(declared(k).sees in attackers() for k in ("face.dlib", "face.scenario_II", "video.informed_speaker_id",
                                                           "voice.semi_lda_verification"))
    only_faces = attackers([{"method": "original", "face_id": {}, "emotion": {}}])  # the judges a run used
    assert declared("face.dlib").sees in only_faces and declared("video.lazy_speaker_id").sees not in only_faces
