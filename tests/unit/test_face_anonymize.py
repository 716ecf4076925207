"""Face anonymizers: size, channels and dtype kept, determinism, the paste-back of whole images,
the batch writer (resume, stamp, bad files) and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from privemo.anonymize.face import FaceAnonymizer, FaceAutoencoder, create_face_anonymizer
from privemo.anonymize.face_batch import anonymize_face_files, anonymize_image
from privemo.cli.main import app
from privemo.corpora._synth_face import draw, random_face
from privemo.errors import ConfigError
from privemo.media import read_image, write_image
from privemo.registry import lookup, names

METHODS = [
    {"type": "face_original"},
    {"type": "face_blur", "sigma": 3.0},
    {"type": "face_pixelate", "block": 8},
    {"type": "face_autoencoder", "size": 16, "epochs": 2, "latent": 20},
    {"type": "face_vgan"},  # the fixture trains a tiny model for it
    {"type": "pseudo_face", "k": 2, "size": 16},
]


def _faces(n: int = 12, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    people = [random_face(rng, g) for g in ("m", "f")]
    return np.stack([draw(people[i % 2], ("happy", "sad", "neutral")[i % 3], rng, size) for i in range(n)])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    from privemo.learners.vgan import Vgan, VganConfig

    faces = _faces()
    model = tmp_path_factory.mktemp("vgan") / "model.pt"
    Vgan(VganConfig(size=16, iterations=2, batch=8)).fit(faces, np.arange(len(faces)) % 2,
                                                           np.arange(len(faces)) % 3).save(model)
    specs = [{**spec, "model": str(model)} if spec["type"] == "face_vgan" else dict(spec) for spec in METHODS]
    return {i: create_face_anonymizer(spec).fit(faces) for i, spec in enumerate(specs)}


def test_every_registered_face_anonymizer_is_covered():
    face = {n for n in names("anonymizer") if lookup("anonymizer", n).media == "image"}
    assert {m["type"] for m in METHODS} == face


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.integers(0, len(METHODS) - 1), h=st.integers(3, 70), w=st.integers(3, 70),
       colour=st.booleans(), dtype=st.sampled_from([np.uint8, np.float32]), seed=st.integers(0, 5))
def test_size_channels_dtype_and_determinism(fitted, method, h, w, colour, dtype, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3) if colour else (h, w)).astype(dtype)
    anonymizer: FaceAnonymizer = fitted[method]
    out = anonymizer.transform(img, key=f"k{seed}")
    assert out.shape == img.shape and out.dtype == img.dtype
    assert np.isfinite(out.astype(np.float64)).all()
    np.testing.assert_array_equal(out, anonymizer.transform(img, key=f"k{seed}"))
    batch = np.stack([img, img[::-1].copy()])
    # in a batch: the same draws (batched float arithmetic may round the last bit differently)
    np.testing.assert_allclose(anonymizer.transform_batch(batch, [f"k{seed}", "other"])[0].astype(float),
                               out.astype(float), atol=1.0)


def test_degradations_remove_detail_and_original_is_identity():
    faces = _faces(4, 64)
    orig = create_face_anonymizer("face_original").transform_batch(faces)
    np.testing.assert_array_equal(orig, faces)
    for spec in ({"type": "face_blur", "sigma": 4}, {"type": "face_pixelate", "block": 8}):
        out = create_face_anonymizer(spec).transform_batch(faces).astype(float)
        # high-frequency energy (pixel differences) falls
        assert np.abs(np.diff(out, axis=2)).mean() < 0.7 * np.abs(np.diff(faces.astype(float), axis=2)).mean()
    pix = create_face_anonymizer({"type": "face_pixelate", "block": 8}).transform(faces[0])
    assert len(np.unique(pix[:8, :8].reshape(-1, 3), axis=0)) == 1  # one colour per 8x8 block


def test_autoencoder_learns_and_round_trips_its_state():
    faces = _faces(24, 32)
    ae = FaceAutoencoder(size=32, epochs=15, latent=32, corrupt=False).fit(faces)
    assert ae.losses_[-1] < ae.losses_[0]
    again = FaceAutoencoder(size=32, epochs=15, latent=32, corrupt=False).load_state(ae.state_dict())
    np.testing.assert_array_equal(again.transform(faces[0], "x"), ae.transform(faces[0], "x"))
    with pytest.raises(ConfigError, match="fit it"):
        FaceAutoencoder(size=32).transform(faces[0])


def test_face_commands_refuse_a_voice_anonymizer():
    with pytest.raises(ConfigError, match="not a face anonymizer"):
        create_face_anonymizer("mcadams")


def test_paste_back_changes_only_the_face_region():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (120, 160, 3)).astype(np.uint8)
    blur = create_face_anonymizer({"type": "face_pixelate", "block": 16})
    out, n = anonymize_image(blur, img, "k", margin=0.0, boxes=[(30, 40, 70, 80)])
    assert n == 1 and out.shape == img.shape and out.dtype == img.dtype
    outside = np.ones(img.shape[:2], bool)
    outside[30:70, 40:80] = False
    np.testing.assert_array_equal(out[outside], img[outside])
    assert not np.array_equal(out[40:60, 50:70], img[40:60, 50:70])
    whole, n = anonymize_image(blur, img, "k", boxes=[])
    assert n == 0 and not np.array_equal(whole, img)
    kept, _ = anonymize_image(blur, img, "k", no_face="keep", boxes=[])
    np.testing.assert_array_equal(kept, img)


def test_batch_resume_stamp_and_bad_files(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i, face in enumerate(_faces(3, 64)):
        write_image(src / "p" / f"{i}.png", face)
    (src / "p" / "broken.png").write_bytes(b"not an image")
    pix = create_face_anonymizer({"type": "face_pixelate", "block": 8})
    r = anonymize_face_files(pix, src, out)
    assert r.written == 3 and len(r.failed) == 1 and "broken.png" in r.failed[0][0]
    assert read_image(out / "p" / "0.png", "rgb").shape == (64, 64, 3)
    again = anonymize_face_files(pix, src, out)
    assert again.skipped == 3 and again.written == 0
    with pytest.raises(ConfigError, match="rather than mixing"):
        anonymize_face_files(create_face_anonymizer({"type": "face_blur"}), src, out)


def test_cli_anonymize_face_folder_and_autoencoder_model(tmp_path):
    src = tmp_path / "in"
    for i, face in enumerate(_faces(4, 64)):
        write_image(src / f"{i}.png", face)
    runner = CliRunner()
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "pix"), "-m", "face_pixelate", "-p", "block=12"])
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "pix").glob("*.png"))) == 4
    model = tmp_path / "ae.pt"
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "ae"), "-m", "face_autoencoder",
                            "-p", "size=32", "-p", "epochs=2", "--save-model", str(model)])
    assert r.exit_code == 0, r.output
    assert model.is_file() and len(list((tmp_path / "ae").glob("*.png"))) == 4
    r = runner.invoke(app, ["anonymize", "face", str(src / "0.png"), str(tmp_path / "one.png"), "-m",
                            "face_autoencoder", "-p", "size=32", "--model", str(model)])
    assert r.exit_code == 0, r.output
    assert read_image(tmp_path / "one.png", "rgb").shape == (64, 64, 3)
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "bad"), "-m", "face_autoencoder",
                            "--model", str(src / "0.png")])
    assert r.exit_code != 0 and "not a face_autoencoder model" in r.output
    blank = tmp_path / "blank"
    write_image(blank / "b.png", np.full((64, 64), 128, np.uint8))
    r = runner.invoke(app, ["anonymize", "face", str(blank), str(tmp_path / "ae2"), "-m", "face_autoencoder"])
    assert r.exit_code != 0 and "no face found" in r.output
    r = runner.invoke(app, ["anonymize", "face", str(src), str(tmp_path / "x"), "-m", "face_blur", "-p", "sigma"])
    assert r.exit_code != 0 and "key=value" in r.output


class _Shipping(__import__("privemo.executors", fromlist=["LocalExecutor"]).LocalExecutor):
    """Local processes handed everything by value, as Ray's workers are."""

    ships_bytes = True


def test_crops_on_an_executor_equal_this_process(fitted):
    """A face evaluation's crops transformed on worker processes (the fitted anonymizer sent once, the
    crops in chunks) come back the same, in order, for every face anonymizer."""
    from privemo.anonymize.face_batch import anonymize_crops

    faces = np.concatenate([_faces(), _faces()[::-1]])
    keys = [f"item{i}" for i in range(len(faces))]
    for i, anonymizer in fitted.items():
        here = anonymize_crops(anonymizer, faces, keys, chunk=5)
        there = anonymize_crops(anonymizer, faces, keys, _Shipping(2), chunk=5)
        assert here.shape == faces.shape and here.dtype == faces.dtype, METHODS[i]
        np.testing.assert_array_equal(here, there, err_msg=str(METHODS[i]))
    with pytest.raises(ValueError, match="keys"):
        anonymize_crops(fitted[1], faces, keys[:-1])
