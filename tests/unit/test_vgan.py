"""PPRL-VGAN (chen-2018): block shapes, the objectives' terms and weights, determinism, resume, the
uses of a trained model, identity replacement judged by D2, the experiment and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from privemo.cli.main import app
from privemo.corpora._synth_face import draw, random_face
from privemo.learners.vgan import Vgan, VganConfig, completion_masks, to_model_range
from privemo.models.vgan import (
    LatentCNN,
    LatentMLP,
    VganClassifier,
    VganDecoder,
    VganDiscriminator,
    VganEncoder,
    kl_divergence,
)
from tests.conftest import assert_report_page

EMOTIONS = ("neutral", "happy", "sad", "angry")


def _faces(people: int = 4, per: int = 8, size: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    faces = [random_face(rng, "m" if p % 2 else "f") for p in range(people)]
    images, ids, emos = [], [], []
    for p in range(people):
        for i in range(per):
            e = EMOTIONS[i % len(EMOTIONS)]
            images.append(draw(faces[p], e, rng, size))
            ids.append(f"p{p}")
            emos.append(e)
    return np.stack(images), np.array(ids), np.array(emos)


@pytest.mark.parametrize("size", [32, 48, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_block_shapes(size, channels):
    x = torch.rand(3, channels, size, size) * 2 - 1
    enc = VganEncoder(channels, size, latent=128)
    mean, logvar = enc(x)
    assert mean.shape == logvar.shape == (3, 128)
    dec = VganDecoder(5, channels, size, latent=128)
    out = dec(mean, torch.tensor([0, 3, 4]))
    assert out.shape == (3, channels, size, size) and out.abs().max() <= 1
    assert dec.fc[0].out_features == 128 * (size // 16) ** 2  # 2048 = 4 x 4 x 128 at 64
    real, ident, expr = VganDiscriminator(5, 7, channels, size)(x)
    assert real.shape == (3,) and ident.shape == (3, 5) and expr.shape == (3, 7)
    assert VganClassifier(6, channels, size)(x).shape == (3, 6)
    assert LatentMLP(128, 6)(mean).shape == (3, 6) and LatentCNN(128, 6)(mean).shape == (3, 6)
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [32, 64, 128, 256] and all(c.stride == (2, 2) for c in convs)


def test_bad_sizes_and_configs_are_refused():
    with pytest.raises(ValueError, match="multiple of 16"):
        VganEncoder(3, 40)
    with pytest.raises(ValueError, match="g_loss"):
        VganConfig(g_loss="hinge")
    with pytest.raises(ValueError, match="lambda_g"):
        VganConfig(lambda_g=(1.0, 1.0))


def _built(**kw) -> Vgan:
    return Vgan(VganConfig(size=32, **kw)).build(3, ["a", "b", "c"], ["x", "y"])


@pytest.mark.parametrize("g_loss", ["non_saturating", "saturating"])
def test_every_weight_and_the_kl_term_enter_the_generator_objective(g_loss):
    torch.manual_seed(0)
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    y_e, code = torch.tensor([0, 1, 0, 1, 0, 1]), torch.tensor([0, 1, 2, 0, 1, 2])
    weights = (0.108, 0.6, 0.29, 0.002)
    model = _built(g_loss=g_loss)
    model._train_mode(False)  # batch norm on running statistics: the same output for the same input
    total, parts = model.generator_loss(x, y_e, code, torch.Generator().manual_seed(1))
    names = ["g_real_fake", "g_identity", "g_expression", "kl"]
    assert torch.isclose(total, sum(w * parts[n] for w, n in zip(weights, names, strict=True)))
    for i, n in enumerate(names):  # raising one weight raises the objective by exactly that part
        w = list(weights)
        w[i] += 1.0
        model.config.lambda_g = tuple(w)
        t2, _ = model.generator_loss(x, y_e, code, torch.Generator().manual_seed(1))
        assert torch.isclose(t2 - total, parts[n], atol=1e-5), n
    model.config.lambda_g = weights
    # the KL term reaches the encoder's log-variance head; the identity term reaches the decoder
    model.encoder_.zero_grad()
    parts["kl"].backward(retain_graph=True)
    assert model.encoder_.logvar.weight.grad.abs().sum() > 0
    assert model.decoder_.fc[0].weight.grad is None
    parts["g_identity"].backward()
    assert model.decoder_.fc[0].weight.grad.abs().sum() > 0


def test_kl_divergence_is_zero_for_the_prior_and_positive_otherwise():
    zeros = torch.zeros(4, 8)
    assert float(kl_divergence(zeros, zeros)) == pytest.approx(0.0)
    assert float(kl_divergence(torch.ones(4, 8), zeros)) == pytest.approx(4.0)  # 0.5 * 8 * 1


def test_every_weight_enters_the_discriminator_objective():
    torch.manual_seed(0)
    model = _built()
    model._train_mode(False)
    real, fake = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    y_id, y_e = torch.tensor([0, 1, 2, 0]), torch.tensor([0, 1, 1, 0])
    total, parts = model.discriminator_loss(real, y_id, y_e, fake)
    names = ["d_real_fake", "d_identity", "d_expression"]
    assert torch.isclose(total, sum(w * parts[n] for w, n in zip((0.25, 0.5, 0.25), names, strict=True)))
    for i, n in enumerate(names):
        w = [0.25, 0.5, 0.25]
        w[i] += 1.0
        model.config.lambda_d = tuple(w)
        assert torch.isclose(model.discriminator_loss(real, y_id, y_e, fake)[0] - total, parts[n], atol=1e-5)


def test_training_is_deterministic_and_resumes_exactly(tmp_path):
    images, ids, emos = _faces(3, 4)
    cfg = dict(size=32, batch=8, checkpoint_every=2, seed=3)
    a = Vgan(VganConfig(iterations=4, **cfg)).fit(images, ids, emos)
    b = Vgan(VganConfig(iterations=4, **cfg)).fit(images, ids, emos)
    assert [r["g_loss"] for r in a.history_] == [r["g_loss"] for r in b.history_]
    for p, q in zip(a.decoder_.parameters(), b.decoder_.parameters(), strict=True):
        assert torch.equal(p, q)
    # an interrupted run (2 iterations, checkpointed) continued to 4 equals the uninterrupted one
    ckpt = tmp_path / "ckpt.pt"
    Vgan(VganConfig(iterations=2, **cfg)).fit(images, ids, emos, checkpoint=ckpt)
    c = Vgan(VganConfig(iterations=4, **cfg)).fit(images, ids, emos, checkpoint=ckpt)
    assert c.iteration_ == 4
    assert [r["g_loss"] for r in c.history_] == pytest.approx([r["g_loss"] for r in a.history_])
    for p, q in zip(a.encoder_.parameters(), c.encoder_.parameters(), strict=True):
        assert torch.allclose(p, q)
    with pytest.raises(ValueError, match="another config"):
        Vgan(VganConfig(iterations=4, **{**cfg, "batch": 4})).fit(images, ids, emos, checkpoint=ckpt)
    with pytest.raises(ValueError, match="other data"):
        Vgan(VganConfig(iterations=6, **cfg)).fit(images, np.where(ids == "p0", "q", ids), emos, checkpoint=ckpt)


def test_training_as_a_chain_of_executor_tasks_is_the_local_training():
    """On an executor, training runs as tasks of checkpoint_every iterations, each handed the last
    checkpoint's bytes: the model it ends with is the one trained in one go."""
    from dataclasses import asdict

    from privemo.experiments.vgan.runner import _train_segment

    images, ids, emos = _faces(3, 4)
    config = VganConfig(size=32, batch=8, checkpoint_every=2, seed=3, iterations=5)
    whole = Vgan(config).fit(images, ids, emos)
    state = None
    for until in (2, 4, 5):
        state = _train_segment((images, ids, emos, asdict(config)), (state, until))
    chained = Vgan(config).load(__import__("io").BytesIO(state), resume=True)
    assert chained.iteration_ == 5 and [r["g_loss"] for r in chained.history_] == [r["g_loss"] for r in whole.history_]
    for a, b in ((whole.encoder_, chained.encoder_), (whole.decoder_, chained.decoder_),
                 (whole.discriminator_, chained.discriminator_)):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.equal(p, q)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained long enough for D2 to know the 4 people and G to draw them."""
    images, ids, emos = _faces(4, 12)
    model = Vgan(VganConfig(size=32, batch=32, iterations=120, seed=0)).fit(images, ids, emos)
    path = tmp_path_factory.mktemp("vgan") / "model.pt"
    model.save(path, training=False)
    return model, path, images, ids


def test_identity_replacement_follows_the_code(trained):
    model, _, images, ids = trained
    test, _, _ = _faces(4, 4, seed=9)  # unseen drawings of other people... and of the same drawing style
    codes = np.tile(np.arange(4), len(test))
    out = model.replace(np.repeat(test, 4, 0), codes)
    with torch.no_grad():
        pred = model.discriminator_(to_model_range(out, 32, 3))[1].argmax(1).numpy()
    assert np.mean(pred == codes) > 0.5  # chance: 0.25


def test_uses_of_a_trained_model(trained, tmp_path):
    model, path, images, _ = trained
    again = Vgan().load(path)
    np.testing.assert_array_equal(again.replace(images[:3], [0, 1, 2]), model.replace(images[:3], [0, 1, 2]))
    assert again.encode(images[:5]).shape == (5, 128)
    grid = model.replace_all(images[:2])
    assert grid.shape == (2, 4, 32, 32, 3) and grid.dtype == np.uint8
    assert model.synthesize([0, 1, 2], seed=1).shape == (3, 32, 32, 3)
    np.testing.assert_array_equal(model.synthesize([0, 1], seed=1), model.synthesize([0, 1], seed=1))
    strip = model.morph(images[0], images[1], 0, steps=5)
    assert strip.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(strip[0], model.replace(images[:1], [0])[0])
    masks = completion_masks(32)
    assert all(0.05 < m.mean() < 0.09 for m in masks.values())
    done = model.complete(images[:2], np.stack([masks["mouth"]] * 2), [0, 0])
    np.testing.assert_array_equal(done[:, ~masks["mouth"]], images[:2][:, ~masks["mouth"]])
    with pytest.raises(ValueError, match="out of range|must lie"):
        model.replace(images[:1], [7])
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a PPRL-VGAN model"):
        Vgan().load(tmp_path / "junk.pt")


def test_face_vgan_anonymizer_and_cli(trained, tmp_path):
    from privemo.anonymize.face import create_face_anonymizer
    from privemo.errors import ConfigError
    from privemo.media import read_image, write_image

    _, path, images, _ = trained
    anon = create_face_anonymizer({"type": "face_vgan", "model": str(path), "identity": "p2"})
    big = np.stack([np.kron(im, np.ones((2, 2, 1), np.uint8)) for im in images[:2]])  # 64 px inputs
    out = anon.transform_batch(big, ["a", "b"])
    assert out.shape == big.shape and out.dtype == np.uint8
    rnd = create_face_anonymizer({"type": "face_vgan", "model": str(path), "seed": 1})
    assert rnd.codes(["k1", "k1", "k2"])[0] == rnd.codes(["k1"])[0]
    with pytest.raises(ConfigError, match="needs a trained model"):
        create_face_anonymizer({"type": "face_vgan"}).transform(images[0])
    with pytest.raises(ConfigError, match="unknown identity"):
        create_face_anonymizer({"type": "face_vgan", "model": str(path), "identity": "nobody"}).transform(images[0])
    src = tmp_path / "in"
    for i in range(2):
        write_image(src / f"f{i}.png", big[i])
    runner = CliRunner()
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "out"), "-m", "vgan", "--model", str(path),
                            "--no-face", "whole"])
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "out" / "f0.png", "rgb").shape == big[0].shape
    (tmp_path / "junk.pt").write_bytes(b"junk")
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "out2"), "-m", "vgan", "--model",
                            str(tmp_path / "junk.pt")])
    assert r.exit_code != 0 and "not a PPRL-VGAN model" in r.output
    assert not (tmp_path / "out2").exists()


def test_vgan_experiment_end_to_end_and_resume(tmp_path, monkeypatch):
    import yaml

    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path / "cache"))
    cfg = {"name": "t", "corpus": {"type": "synthetic", "options": {"media": "image", "n_speakers": 4, "items": 4}},
           "size": 32, "detect": False, "left_out": {"subject": "synthetic_spk01", "emotion": "happy"},
           "model": {"iterations": 4, "batch": 16, "checkpoint_every": 2},
           "attacks": {"epochs": 1, "pretrained": False}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(app, ["vgan", "evaluate", str(path), "--out", str(run)])
    assert r.exit_code == 0, r.output
    rows = [__import__("json").loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    scen = {(r["scenario"], r["attacker"]) for r in rows if "scenario" in r}
    assert {("unconstrained", "cnn"), ("I", "cnn"), ("II", "cnn"), ("III", "svm"), ("III", "mlp"),
            ("III", "cnn1d"), ("replacement", "D2")} <= scen
    assert all(0 <= r["identification"]["acc"] <= 1 for r in rows if "identification" in r)
    for name in ("replacement", "synthesis", "morphing", "completion", "left_out"):
        assert (run / "figures" / f"{name}.png").is_file(), name
    html = (run / "report.html").read_text()
    assert "Attack scenario III" in html and "data:image/png;base64" in html
    assert assert_report_page(run / "report.html")["images"] >= 5  # Table 2 and the five figures
    before = (run / "units" / "scenario_II.json").stat().st_mtime_ns
    r = runner.invoke(app, ["vgan", "evaluate", str(path), "--out", str(run)])  # resume: nothing redone
    assert r.exit_code == 0, r.output
    assert (run / "units" / "scenario_II.json").stat().st_mtime_ns == before
    # the attackers' settings changed under the same run folder: refused, naming the key and the unit
    changed = {**cfg, "attacks": {"epochs": 2, "pretrained": False}}
    path.write_text(yaml.safe_dump(changed))
    r = runner.invoke(app, ["vgan", "evaluate", str(path), "--out", str(run)])
    assert r.exit_code != 0 and "attacks.epochs changed" in r.output and "--force" in r.output, r.output
    assert (run / "units" / "scenario_II.json").stat().st_mtime_ns == before
    path.write_text(yaml.safe_dump(cfg))
    # a run folder written before a data option existed (no `split` key) is the same run under its default
    old = yaml.safe_load((run / "config.yaml").read_text())
    del old["split"]
    (run / "config.yaml").write_text(yaml.safe_dump(old))
    r = runner.invoke(app, ["vgan", "train", str(path), "--out", str(run)])
    assert r.exit_code == 0, r.output
    # the same folder for other data is refused; a bad config names its file
    cfg["size"] = 64
    path.write_text(yaml.safe_dump(cfg))
    r = runner.invoke(app, ["vgan", "train", str(path), "--out", str(run)])
    assert r.exit_code != 0 and "other data" in r.output
    cfg["size"] = 40
    path.write_text(yaml.safe_dump(cfg))
    r = runner.invoke(app, ["vgan", "train", str(path), "--out", str(tmp_path / "r2")])
    assert r.exit_code != 0 and "c.yaml" in r.output and "multiple of 16" in r.output


def test_shipped_vgan_configs_are_valid():
    from pathlib import Path

    from privemo.experiments.vgan.config import load_vgan_config

    files = sorted((Path(__file__).resolve().parents[2] / "configs" / "vgan").glob("*.yaml"))
    assert {f.name for f in files} >= {"demo.yaml", "ferg.yaml", "ckplus48.yaml"}
    for f in files:
        assert load_vgan_config(f).vgan_config().size == (48 if f.name == "ckplus48.yaml" else 64)


def test_dlib_probes_draw_distinct_codes_per_image_and_only_their_unit_depends_on_it():
    from types import SimpleNamespace

    from privemo.attacks.vgan import Judge
    from privemo.experiments.vgan.config import VganAttackConfig
    from privemo.experiments.vgan.runner import VganExperiment

    judge = Judge.__new__(Judge)
    judge.d, judge.k, judge.seed = SimpleNamespace(test=list(range(5))), 7, 0
    judge.cfg = VganAttackConfig(pretrained_codes=3)
    rows = judge.pretrained_rows()
    assert len(rows) == 15 and all(len(set(rows[i * 3:(i + 1) * 3] // 7)) == 1 for i in range(5))
    assert list(rows // 7) == [i for i in range(5) for _ in range(3)]  # each image's own rows
    assert all(len(set(rows[i * 3:(i + 1) * 3] % 7)) == 3 for i in range(5))  # distinct codes
    assert list(rows) == list(judge.pretrained_rows())  # seeded
    judge.cfg = VganAttackConfig()  # 0: every code
    assert list(judge.pretrained_rows()) == list(range(35))
    runner = VganExperiment.__new__(VganExperiment)
    runner._trained = None
    base = {"attacks": {"epochs": 20}, "model": {}}
    drawn = {"attacks": {"epochs": 20, "pretrained_codes": 8}, "model": {}}
    a, b = runner.unit_specs(base), runner.unit_specs(drawn)
    assert [u for u in a if a[u] != b[u]] == ["pretrained"]
    assert runner.unit_specs({**base, "attacks": {"epochs": 20, "pretrained_codes": 0}}) == a
