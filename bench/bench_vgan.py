"""PPRL-VGAN speed on this machine: training images/s against a plain VAE loop on the same encoder and
decoder in the same run, and anonymizing images/s against OpenCV resize + blur.

    python bench/bench_vgan.py [--iterations 20] [--recipe src/privemo/configs/vgan/demo.yaml]

Training: the demo faces at 32, 48 and 64 pixels, batch 64, one iteration = 1 discriminator + 2
generator updates (3 x 64 images through the networks); the baseline iteration is 3 plain VAE steps
(encoder -> decoder -> MSE + KL) on the same networks, i.e. the cost without the discriminator and
its three heads. Timed after 2 warm-up iterations. The recipe's time is extrapolated from the 64-px
rate to the recipe's iterations (the real run's training time is in its report). Anonymizing:
``face_vgan`` (encode + decode with a random identity) on batches of 64 crops of 64x64.
Writes bench/results/vgan.json and .md.
"""

from __future__ import annotations

import time

import numpy as np
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)


def demo_faces(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from privemo.features import FeatureCache
    from privemo.features.faceset import load_faces

    fs, _ = load_faces("synthetic", None, {"media": "image", "n_speakers": 12, "items": 10}, None, size, "rgb",
                       FeatureCache(), detect=False)
    return fs.images, fs.subject, fs.emotion


def vgan_rate(size: int, iterations: int) -> float:
    from privemo.learners.vgan import Vgan, VganConfig

    images, subject, emotion = demo_faces(size)
    model = Vgan(VganConfig(size=size, iterations=2, batch=64, flip=False)).fit(images, subject, emotion)
    before = model.seconds_  # the iterations' own time (not the data preparation of fit)
    model.config.iterations = 2 + iterations
    model.fit(images, subject, emotion)
    return iterations * 3 * 64 / (model.seconds_ - before)


def vae_rate(size: int, iterations: int) -> float:
    import torch

    from privemo.learners.vgan import to_model_range
    from privemo.models.vgan import VganDecoder, VganEncoder, kl_divergence, reparameterize

    images, subject, _ = demo_faces(size)
    x = to_model_range(images, size, 3)
    k = len(set(subject.tolist()))
    enc, dec = VganEncoder(3, size), VganDecoder(k, 3, size)
    opt = torch.optim.RMSprop([*enc.parameters(), *dec.parameters()], lr=2e-4)
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        idx = torch.randint(len(x), (64,), generator=gen)
        mean, logvar = enc(x[idx])
        out = dec(reparameterize(mean, logvar, gen), torch.randint(k, (64,), generator=gen))
        loss = torch.nn.functional.mse_loss(out, x[idx]) + 0.002 * kl_divergence(mean, logvar)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2 * 3):
        step()
    t0 = time.perf_counter()
    for _ in range(iterations * 3):
        step()
    return iterations * 3 * 64 / (time.perf_counter() - t0)


def anonymize_rates(n: int) -> dict[str, float]:
    import tempfile

    import cv2

    from privemo.anonymize.face import create_face_anonymizer
    from privemo.learners.vgan import Vgan, VganConfig

    images, subject, emotion = demo_faces(64)
    tiled = np.resize(images, (n, 64, 64, 3)).astype(np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/model.pt"
        Vgan(VganConfig(size=64, iterations=1, batch=16)).fit(images[:64], subject[:64], emotion[:64]).save(path)
        an = create_face_anonymizer({"type": "face_vgan", "model": path}).fit([])

        def rate(fn) -> float:  # type: ignore[no-untyped-def]
            fn(tiled[:64])
            t0 = time.perf_counter()
            for i in range(0, n, 64):
                fn(tiled[i:i + 64])
            return n / (time.perf_counter() - t0)

        base = rate(lambda b: np.stack([cv2.GaussianBlur(cv2.resize(cv2.resize(im, (96, 96)), (64, 64)), (0, 0), 4)
                                        for im in b]))
        vgan = rate(lambda b: an.transform_batch(b, [str(i) for i in range(len(b))]))
    return {"resize + blur (baseline)": base, "face_vgan": vgan}


def main() -> None:
    import torch
    import yaml

    ap = parser()
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--recipe", default=str(ROOT / "src" / "privemo" / "configs" / "vgan" / "demo.yaml"))
    args = ap.parse_args()
    recipe = yaml.safe_load(open(args.recipe))
    train: dict[str, dict[str, float]] = {}
    for size in (32, 48, 64):
        v, b = vgan_rate(size, args.iterations), vae_rate(size, args.iterations)
        train[str(size)] = {"vgan_images_per_s": v, "vae_images_per_s": b, "x_vae": v / b}
    anon = anonymize_rates(args.images)
    its = int(recipe["model"]["iterations"])
    s64 = its * 3 * 64 / train["64"]["vgan_images_per_s"]
    lines = [f"# PPRL-VGAN speed ({machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads)", "",
             "## Training (demo faces, batch 64; images/s through the networks)", "",
             "| size | PPRL-VGAN | plain VAE loop (baseline) | x baseline |", "|---|---|---|---|"]
    for size, r in train.items():
        lines.append(f"| {size} | {r['vgan_images_per_s']:.0f} | {r['vae_images_per_s']:.0f} | {r['x_vae']:.2f} |")
    lines += ["", f"The demo recipe ({its} iterations at {recipe['size']} px) extrapolates to {s64 / 60:.1f} min here.",
              "", f"## Anonymizing ({args.images} crops of 64x64, batches of 64)", "",
              "| method | images/s | x baseline |", "|---|---|---|"]
    for k, v in anon.items():
        lines.append(f"| {k} | {v:.0f} | {v / anon['resize + blur (baseline)']:.2f} |")
    write(args.out, "vgan", {"machine": machine(), "threads": torch.get_num_threads(), "training": train,
                             "recipe_iterations": its, "recipe_minutes_extrapolated": s64 / 60, "anonymize": anon},
          lines)


if __name__ == "__main__":
    main()
