"""On the demo corpus, Priv (gradient reversal against gender) lowers the leakage L of jaiswal-2020.

L is the UAR of the model's own gender classifier on unseen speakers: Priv's adversary head; for
Gen, which has none, a logistic-regression head on its training representations (as the
``leakage`` evaluator does). This is the paper's L, not its privacy metric P: a fresh, stronger
attacker may still recover gender from Priv's representation, which is why the attacker suite and
the README report P separately.
"""

from __future__ import annotations

import numpy as np
import pytest

from privemo.corpora import load
from privemo.corpora.synthetic import generate
from privemo.evaluators.base import fit_predict
from privemo.features import FeatureCache, extract, get_extractor, speaker_znorm
from privemo.learners import SeqData
from privemo.learners.standard import AdversarialLearner, StandardLearner
from privemo.metrics import uar

ENC = {"type": "acoustic", "conv_layers": 2, "kernel": 3, "channels": 32, "gru_layers": 1, "gru_width": 32,
       "stride": 4}
OPTS = {"n_speakers": 12, "items": 4, "videos": 0, "seed": 0}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = generate(tmp_path_factory.mktemp("synth12"), **OPTS)
    man = load("synthetic", root, media="audio", **OPTS)
    values = extract(man, get_extractor({"type": "mfb"}), FeatureCache(tmp_path_factory.mktemp("cache"))).values
    return man, speaker_znorm(values, man.df["speaker"].tolist())


def _fold(man, values, fold):
    spk = man.df["speaker"].to_numpy()
    speakers = sorted(set(spk))  # alternately male and female
    test_spk, valid_spk = set(speakers[4 * fold:4 * fold + 2]), set(speakers[4 * fold + 2:4 * fold + 4])
    test = np.flatnonzero([s in test_spk for s in spk])
    valid = np.flatnonzero([s in valid_spk for s in spk])
    train = np.flatnonzero([s not in test_spk | valid_spk for s in spk])
    emotions = sorted(set(man.df["emotion"]))
    y = np.array([emotions.index(e) for e in man.df["emotion"]])
    gender = np.array([{"m": 0, "f": 1}[x] for x in man.df["gender"]])

    def data(ix):
        return SeqData([values[i] for i in ix], y[ix], {"gender": gender[ix]})

    common = {"encoder": ENC, "epochs": 12, "patience": 12, "lr": 2e-3, "batch_size": 32, "seed": 0}
    gen = StandardLearner(**common).fit(data(train), data(valid))
    priv = AdversarialLearner(adversaries=[{"target": "gender", "lambda": 1.0, "layers": 2}],
                              **common).fit(data(train), data(valid))
    x_test = [values[i] for i in test]
    gen_head = fit_predict("logreg", gen.encode([values[i] for i in train]), gender[train], gen.encode(x_test))
    gen_leak = uar(gender[test], gen_head.astype(int))
    priv_leak = uar(gender[test], priv.adversary_predict(x_test)["gender"])
    return gen_leak, priv_leak, uar(y[test], priv.predict(x_test)), 1.0 / len(emotions)


def test_priv_lowers_gender_leakage_against_gen(corpus):
    """Two folds (two unseen speakers each, one male, one female); L averaged over them."""
    runs = [_fold(*corpus, fold) for fold in (0, 1)]
    gen_leak, priv_leak = np.mean([r[0] for r in runs]), np.mean([r[1] for r in runs])
    assert gen_leak > 0.7, f"Gen's representation should show gender: L = {gen_leak:.2f}"
    assert priv_leak < gen_leak - 0.1, f"Priv L = {priv_leak:.2f}, Gen L = {gen_leak:.2f}"
    for _, _, emo, chance in runs:
        assert emo > 2 * chance, f"Priv lost emotion: UAR {emo:.2f}"
