"""Face anonymizer throughput at 64x64 (one process; pseudo_face also on ``--workers`` processes), against a plain resize + blur in the same run,
and narula-2020's Hybrid training time per Algorithm-1 iteration against one plain training epoch.

    python bench/bench_face.py [--yale ../shared/data/yalefaces] [--images 2048]

Faces: Yale's aligned 64x64 gray crops (the demo corpus's drawn faces where Yale is absent), tiled to
``--images``. Throughput = images / second of ``transform_batch`` on batches of 64, after one warm-up
batch; the baseline is OpenCV resize (from 96x96) + Gaussian blur per image, the cheapest thing a
pipeline could do to a face. The autoencoder is fitted on the faces first (not timed). Hybrid: 3000
images at 48x48 (narula-2020's augmented Yale size), the default config's network; one iteration =
one adversarial epoch + the identity re-training (up to 5 epochs on the frozen base's features).
Writes bench/results/face.json and .md.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.anonymize.face import (
    FaceAnonymizer,  # noqa: E402
    create_face_anonymizer,  # noqa: E402
)
from privemo.anonymize.face_batch import anonymize_crops  # noqa: E402
from privemo.executors import LocalExecutor  # noqa: E402

PARALLEL = ("pseudo_face",)  # also timed on --workers processes (anonymize_crops on the local executor)
METHODS = [
    ("face_blur sigma 4", {"type": "face_blur", "sigma": 4}),
    ("face_pixelate block 8", {"type": "face_pixelate", "block": 8}),
    ("face_autoencoder (latent 300, corrupt)", {"type": "face_autoencoder", "size": 64, "epochs": 5}),
    ("face_autoencoder (latent 300, no corruption)", {"type": "face_autoencoder", "size": 64, "epochs": 5,
                                                      "corrupt": False}),
    ("pseudo_face (ours, defaults)", {"type": "pseudo_face"}),
]


def faces(root: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    from privemo.features import FeatureCache
    from privemo.features.faceset import load_faces

    if Path(root).is_dir():
        fs, _ = load_faces("yale", Path(root), {}, ["happy", "sad", "neutral", "surprised"], 64, "gray",
                           FeatureCache())
        return fs.images, fs.subject, fs.emotion, "yale"
    print(f"Yale not found at {root}: measuring on the demo corpus's faces instead")
    fs, _ = load_faces("synthetic", None, {"media": "image"}, None, 64, "gray", FeatureCache(), detect=False)
    return fs.images, fs.subject, fs.emotion, "synthetic"


def rate(fn, images: np.ndarray, batch: int = 64) -> float:  # type: ignore[no-untyped-def]
    fn(images[:batch])
    t0 = time.perf_counter()
    for i in range(0, len(images), batch):
        fn(images[i:i + batch])
    return len(images) / (time.perf_counter() - t0)


def baseline(batch: np.ndarray) -> np.ndarray:
    import cv2

    return np.stack([cv2.GaussianBlur(cv2.resize(cv2.resize(im, (96, 96)), (64, 64)), (0, 0), 4) for im in batch])


def hybrid_timing(images: np.ndarray, subject: np.ndarray, emotion: np.ndarray) -> dict[str, float]:
    import cv2
    import torch

    from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier
    from privemo.experiments.face.config import NarulaConfig
    from privemo.features.faceset import FaceSet, augmented, encode, to_tensor
    from privemo.learners.narula import Algorithm1
    from privemo.models.face import Hybrid

    small = np.stack([cv2.resize(im, (48, 48), interpolation=cv2.INTER_AREA) for im in images])
    n = len(small)
    fs = augmented(FaceSet(small, subject, emotion, np.full(n, "?"), np.arange(n), np.arange(n).astype(str),
                           np.ones(n, bool)), 3000, 0)
    x = to_tensor(fs.images)
    ye, emotions = encode(fs.emotion)
    yi, subjects = encode(fs.subject)
    cfg = NarulaConfig()
    tc = TrainConfig(epochs=1, batch=cfg.batch)
    torch.manual_seed(0)
    plain = classifier(1, 48, len(emotions), tuple(cfg.channels), tuple(cfg.hidden), cfg.leaky)
    t0 = time.perf_counter()
    fit_classifier(plain, x, ye, tc, epochs=2)
    epoch = (time.perf_counter() - t0) / 2
    model = Hybrid(1, 48, len(emotions), len(subjects), tuple(cfg.channels), tuple(cfg.hidden), cfg.leaky)
    algo = Algorithm1(T=3, init_epochs=1, adv_epochs=cfg.adv_epochs, id_epochs=cfg.id_epochs, adv_lr=cfg.adv_lr,
                      train=tc)
    algo.fit(model, x, ye, yi)
    per_iter = sum(h["seconds"] for h in algo.history if h["step"] != "init") / 3
    return {"images": len(x), "plain_epoch_s": epoch, "hybrid_iteration_s": per_iter,
            "iteration_x_epoch": per_iter / epoch}


def main() -> None:
    ap = parser()
    ap.add_argument("--yale", default=str(ROOT.parent / "shared" / "data" / "yalefaces"))
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=2, help="processes for the parallel rows (default: 2 cores)")
    args = ap.parse_args()
    images, subject, emotion, name = faces(args.yale)
    tiled = np.resize(images, (args.images, 64, 64)).astype(np.uint8)
    results: dict[str, dict[str, float]] = {"resize + blur (baseline)": {"images_per_s": rate(baseline, tiled)}}
    for label, spec in METHODS:
        an: FaceAnonymizer = create_face_anonymizer(spec).fit(images, subjects=list(subject))
        results[label] = {"images_per_s": rate(lambda b, an=an: an.transform_batch(b, [str(i) for i in range(len(b))]),
                                               tiled)}
        if spec["type"] == "pseudo_face":  # its landmark step alone (dlib's 68 points on the upscaled crop)
            results["pseudo_face's landmarks alone (one process)"] = {
                "images_per_s": rate(lambda b, an=an: [an._points(im.astype(np.float32)) for im in b], tiled)}
        if spec["type"] in PARALLEL:  # the same on every core: worker processes, the crops in chunks
            with LocalExecutor(args.workers).running() as ex:
                keys = [str(i) for i in range(len(tiled))]
                anonymize_crops(an, tiled[:256], keys[:256], ex)  # warm-up (the pool starts)
                t0 = time.perf_counter()
                anonymize_crops(an, tiled, keys, ex)
                results[f"{label}, {args.workers} processes"] = {
                    "images_per_s": len(tiled) / (time.perf_counter() - t0), "workers": args.workers}
    base = results["resize + blur (baseline)"]["images_per_s"]
    lines = [f"# Face anonymizers: throughput at 64x64 ({machine()})", "",
             f"{args.images} {name} face crops in batches of 64 (one process), or in chunks of 256 on "
             f"{args.workers} worker processes (the rows that say so); fitting not timed; landmarks included, "
             "face detection not (the crops are faces).", "",
             "| method | images/s | x baseline |", "|---|---|---|"]
    for label, r in results.items():
        r["x_baseline"] = r["images_per_s"] / base
        lines.append(f"| {label} | {r['images_per_s']:.0f} | {r['x_baseline']:.2f} |")
    hyb = hybrid_timing(images, subject, emotion)
    lines += ["", "## narula-2020 Hybrid (Algorithm 1), default network, 48x48", "",
              f"{hyb['images']} augmented {name} images: one plain training epoch {hyb['plain_epoch_s']:.2f} s; "
              f"one Algorithm-1 iteration {hyb['hybrid_iteration_s']:.2f} s "
              f"({hyb['iteration_x_epoch']:.2f} x a plain epoch)."]
    write(args.out, "face", {"corpus": name, "images": args.images, "machine": machine(), "results": results,
                             "hybrid": hyb}, lines)


if __name__ == "__main__":
    main()
