"""Video anonymization speed: frames per second and real-time factor at 25 fps on this machine, with the
cost of face detection + tracking shown apart, against a plain decode + re-encode in the same run.

    python bench/bench_video.py [--yale ../shared/data/yalefaces] [--seconds 8] [--size 480x360]

The clip: ``--seconds`` at 25 fps and ``--size`` (CREMA-D's VideoFlash is 480x360), a REAL face (a
Yale photograph, moving a few pixels per frame) on a plain background where Yale is present (else
the demo corpus's drawn face, scaled up, which dlib does not detect: every frame is then anonymized
whole), with 16 kHz speech from the demo corpus's voice as the track. One process, torch's default
threads; each configuration is run twice and the faster run kept. RTF = processing seconds / clip
seconds (below 1: faster than real time). Writes bench/results/video.json and .md.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.anonymize import create_anonymizer  # noqa: E402
from privemo.anonymize.face import create_face_anonymizer  # noqa: E402
from privemo.anonymize.video import TrackerConfig, anonymize_video, fit_on_videos  # noqa: E402
from privemo.media import read_video, write_video  # noqa: E402

CONFIGS = [  # label, face, voice, detect every k-th frame, detector upsampling
    ("face_pixelate + mcadams, detect every frame", {"type": "face_pixelate"}, {"type": "mcadams"}, 1, 1),
    ("face_pixelate + mcadams, detect every 5th frame", {"type": "face_pixelate"}, {"type": "mcadams"}, 5, 1),
    ("face_pixelate + mcadams, detect every frame, upsample 0", {"type": "face_pixelate"}, {"type": "mcadams"}, 1, 0),
    ("face_blur + mcadams, detect every frame", {"type": "face_blur"}, {"type": "mcadams"}, 1, 1),
    ("face_autoencoder + voice_vq, detect every frame", {"type": "face_autoencoder", "size": 64, "epochs": 3},
     {"type": "voice_vq", "k": 16}, 1, 1),
]


def make_clip(path: Path, yale: Path, seconds: float, size: tuple[int, int]) -> str:
    import cv2

    from privemo.corpora import _synth_face as face_
    from privemo.corpora import _synth_voice as voice_
    from privemo.media import read_image

    rng = np.random.default_rng(0)
    h, w = size[1], size[0]
    if (yale / "subject02.normal").is_file():
        face = np.repeat(read_image(yale / "subject02.normal")[..., None], 3, axis=2)
        face = cv2.resize(face, (int(face.shape[1] * 0.8), int(face.shape[0] * 0.8)))
        kind = "yale (real face)"
    else:
        print(f"Yale not found at {yale}: a drawn face (no detection: whole frames anonymized)")
        face = cv2.resize(face_.draw(face_.random_face(rng, "f"), "happy", rng), (200, 200))
        kind = "synthetic drawn face"
    n = int(seconds * 25)
    frames = np.full((n, h, w, 3), 110, np.uint8)
    fh, fw = face.shape[:2]
    for i in range(n):
        top = int((h - fh) / 2 + 10 * np.sin(i / 12))
        left = int((w - fw) / 2 + 30 * np.sin(i / 20))
        frames[i, top:top + fh, left:left + fw] = face
    voice = voice_.random_voice(rng, "f")
    speech = np.concatenate([voice_.speak("Kids are talking by the door", voice, "happy", rng)
                             for _ in range(int(seconds // 2) + 2)])[: int(seconds * 16000)]
    write_video(path, frames, 25, speech, 16000)
    return kind


def plain(src: Path, dst: Path) -> float:
    t0 = time.perf_counter()
    clip = read_video(src, sr=None)
    write_video(dst, clip.frames, clip.fps, clip.audio, clip.sr)
    return time.perf_counter() - t0


def main() -> None:
    ap = parser()
    ap.add_argument("--yale", default=str(ROOT.parent / "shared" / "data" / "yalefaces"))
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--size", default="480x360")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    tmp = Path(tempfile.mkdtemp(prefix="privemo-bench-video-"))
    src = tmp / "clip.mp4"
    kind = make_clip(src, Path(args.yale), args.seconds, size)  # type: ignore[arg-type]
    clip = read_video(src, sr=None, with_audio=False)
    n, duration = len(clip.frames), clip.duration
    base = min(plain(src, tmp / "plain.mp4") for _ in range(2))
    results: dict[str, dict[str, float]] = {"decode + encode only (baseline)": {
        "seconds": base, "frames_per_s": n / base, "rtf": base / duration}}
    for label, fspec, vspec, every, upsample in CONFIGS:
        face, voice = create_face_anonymizer(fspec), create_anonymizer(vspec)
        fit_on_videos(face, voice, [src])  # not timed
        tracker = TrackerConfig(detect_every=every, upsample=upsample)
        runs = [anonymize_video(src, tmp / f"out{i}.mp4", face, voice, "clip", tracker=tracker) for i in range(2)]
        s = min(runs, key=lambda r: r.decode_s + r.detect_s + r.face_s + r.voice_s + r.encode_s)
        total = s.decode_s + s.detect_s + s.face_s + s.voice_s + s.encode_s
        results[label] = {"seconds": total, "frames_per_s": n / total, "rtf": total / duration,
                          "detect_s": s.detect_s, "detect_share": s.detect_s / total, "face_s": s.face_s,
                          "voice_s": s.voice_s, "codec_s": s.decode_s + s.encode_s,
                          "face_frames": s.face_frames, "frames": s.frames}
    lines = [f"# Video anonymization speed ({machine()})", "",
             f"One clip, {n} frames at 25 fps ({duration:.1f} s), {size[0]}x{size[1]}, {kind}, 16 kHz speech; "
             "best of two runs; fitting not timed.", "",
             "| configuration | frames/s | RTF | x baseline time | detect+track s (share) | face s | voice s | "
             "decode+encode s | frames with a tracked face |", "|---|---|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        r["x_baseline_time"] = r["seconds"] / base
        if "detect_s" in r:
            lines.append(f"| {label} | {r['frames_per_s']:.1f} | {r['rtf']:.3f} | {r['x_baseline_time']:.2f} | "
                         f"{r['detect_s']:.2f} ({100 * r['detect_share']:.0f}%) | {r['face_s']:.2f} | {r['voice_s']:.2f} | "
                         f"{r['codec_s']:.2f} | {r['face_frames']}/{r['frames']} |")
        else:
            lines.append(f"| {label} | {r['frames_per_s']:.1f} | {r['rtf']:.3f} | 1.00 | - | - | - | "
                         f"{r['seconds']:.2f} | - |")
    write(args.out, "video", {"clip": {"frames": n, "seconds": duration, "size": list(size), "face": kind},
                              "machine": machine(), "results": results}, lines)


if __name__ == "__main__":
    main()
