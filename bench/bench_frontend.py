"""The face front-ends side by side: dlib (HOG detector + 68-point shape predictor) and mediapipe
(BlazeFace + 468-point face mesh), in one run on this machine.

    python bench/bench_frontend.py [--data ../shared/data]

* recall = faces found / faces present, on Yale (165 photographs, 320x243, one face each), CK+48
  (981 tight 48x48 face crops, one face each; run as given and scaled to 96 pixels) and the CREMA-D
  sample (every 5th frame of its six 480x360 talking-face clips, one face each);
* milliseconds per call, one thread: detection on a 480x360 frame (CREMA-D), detection on a 48x48
  crop (CK+48), and landmarks of a face in a given box (CK+48 crops scaled to 160 pixels, as
  pseudo_face runs them). Each timing is the median of repeated calls over the same images.
Writes bench/results/frontend.{json,md}. Corpora not found are left out, saying so.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.features.frontend import get_frontend  # noqa: E402
from privemo.media import read_image, read_video  # noqa: E402

FRONTENDS = ("dlib", "mediapipe")


def images(data: Path) -> dict[str, list[np.ndarray]]:
    import cv2

    sets: dict[str, list[np.ndarray]] = {}
    yale = data / "yalefaces"
    if yale.is_dir():
        sets["yale"] = [read_image(p, "rgb") for p in sorted(yale.glob("subject*")) if p.is_file()]
    ck = data / "ckplus48"
    if ck.is_dir():
        crops = [read_image(p, "rgb") for p in sorted(ck.glob("*/*.png"))]
        sets["ckplus48"] = crops
        sets["ckplus48 x2 (96 px)"] = [cv2.resize(c, (96, 96), interpolation=cv2.INTER_CUBIC) for c in crops]
    crema = data / "crema-d-sample" / "VideoFlash"
    if crema.is_dir():
        sets["crema-d frames"] = [f for p in sorted(crema.glob("*.flv")) for f in read_video(p, with_audio=False).frames[::5]]
    for name in ("yale", "ckplus48", "crema-d frames"):
        if not any(k.startswith(name) for k in sets):
            print(f"{name}: not found under {data}, left out")
    return sets


def per_call_ms(fn, items: list[np.ndarray], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        for x in items:
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def main() -> None:
    import cv2

    ap = parser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    cv2.setNumThreads(1)
    sets = images(Path(args.data))
    report: dict = {"machine": machine(), "recall": {}, "ms": {}, "n": {k: len(v) for k, v in sets.items()}}
    for name in FRONTENDS:
        fe = get_frontend(name)
        fe.detect(np.zeros((64, 64, 3), np.uint8))  # load the model outside the timings
        report["recall"][name] = {k: float(np.mean([bool(fe.detect(im)) for im in v])) for k, v in sets.items()}
        ms = {}
        if "crema-d frames" in sets:
            ms["detect 480x360 frame"] = per_call_ms(fe.detect, sets["crema-d frames"][:40])
        if "ckplus48" in sets:
            ms["detect 48x48 crop"] = per_call_ms(fe.detect, sets["ckplus48"][:100])
            big = [cv2.resize(c, (160, 160), interpolation=cv2.INTER_CUBIC) for c in sets["ckplus48"][:100]]
            ms["landmarks in a 160 px box"] = per_call_ms(lambda im, fe=fe: fe.landmarks(im, (13, 13, 147, 147)), big)
        report["ms"][name] = ms
    cols = list(sets)
    timings = sorted({k for v in report["ms"].values() for k in v})
    lines = ["# Face front-ends", "", f"{machine()}, one thread; recall = share of images where a face was found "
             "(every image holds one face).", "",
             "| front-end | " + " | ".join(f"recall {c} (n={report['n'][c]})" for c in cols) + " | "
             + " | ".join(f"ms: {t}" for t in timings) + " |", "|---|" + "---|" * (len(cols) + len(timings))]
    for name in FRONTENDS:
        lines.append(f"| {name} | " + " | ".join(f"{report['recall'][name][c]:.3f}" for c in cols) + " | "
                     + " | ".join(f"{report['ms'][name].get(t, float('nan')):.2f}" for t in timings) + " |")
    write(args.out, "frontend", report, lines)


if __name__ == "__main__":
    main()
