"""Voice anonymization on a real subset of RAVDESS (8 clips per actor, 192 clips): the attackers find
the speakers of the original audio, and McAdams moves the figures the way VoicePrivacy reports
(conservative ranges; the full-corpus figures are in the README)."""

from __future__ import annotations

import pytest

from privemo.experiments.voice import VoiceEvalConfig
from privemo.experiments.voice.runner import VoiceEvaluation
from tests.conftest import shared

pytestmark = pytest.mark.integration


def test_ravdess_subset_original_and_mcadams(tmp_path):
    root = shared("ravdess")
    cfg = VoiceEvalConfig.model_validate({
        "name": "it", "corpus": {"type": "ravdess", "root": str(root)}, "max_items_per_speaker": 8,
        "folds": 4, "workers": 2, "examples": 1, "rtf_clips": 4, "attackers": ["logreg"],
        "finetune": {"steps": 20, "speakers": 6, "clips": 3},
        "methods": [{"name": "mcadams", "anonymizer": {"type": "mcadams"}}]})
    VoiceEvaluation(cfg, tmp_path / "run", root.parent).run()
    from privemo.experiments.store import read_results

    rows = {r["method"]: r for r in read_results(tmp_path / "run")}
    o, m = rows["original"], rows["mcadams"]
    assert o["n_items"] == 192 and o["n_speakers"] == 24
    # the pretrained verifier works on original speech: low EER, speakers identified far above chance
    assert o["verification"]["original_eer_centroid"] < 0.2
    assert o["speaker_id"]["informed_resemblyzer"] > 0.5  # chance 1/24
    assert o["gender"]["uar"] > 0.85
    # McAdams raises the lazy-informed EER; speaker ID by a naive attacker drops
    assert m["verification"]["lazy_eer_centroid"] > o["verification"]["lazy_eer_centroid"]
    assert m["speaker_id"]["naive_resemblyzer"] < o["speaker_id"]["naive_resemblyzer"]
    assert 0.0 < m["rtf"] < 1.0
    # the encoder fine-tuned on each fold's other speakers still verifies original speech
    assert o["finetuned"]["eer_centroid"] < 0.25 and o["finetuned"]["id_accuracy"] > 0.5
    assert m["finetuned"]["eer_centroid"] < 0.4  # and McAdams does not hide the speakers from it
    assert set(o["emotion"]["logreg_anon_recall"]) == set(o["emotion"]["labels"])
    # emotion is recognised above chance (8 classes) from the original audio
    assert o["emotion"]["logreg_orig_uar"] > 0.25
