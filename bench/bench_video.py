"""Video anonymization speed: frames per second and real-time factor at 25 fps on this machine, with the
cost of face detection + tracking shown apart, against a plain decode + re-encode in the same run.

    python bench/bench_video.py [--yale ../shared/data/yalefaces] [--seconds 8] [--size 480x360]

The clip: ``--seconds`` at 25 fps and ``--size`` (CREMA-D's VideoFlash is 480x360), a REAL face (a
Yale photograph, moving a few pixels per frame; pseudo_face's pool: Yale's other subjects) on a plain background where Yale is present (else
the demo corpus's drawn face, scaled up, which dlib does not detect: every frame is then anonymized
whole), with 16 kHz speech from the demo corpus's voice as the track. One process, torch's default
threads; each configuration is run three times, the first (which loads the models) dropped and the
faster of the other two kept. RTF = the clip's wall time / its length (below 1: faster than real
time). Two baselines: decode + encode with FFmpeg's defaults, and with the fast path that
``anonymize_video`` takes (x264 ultrafast on one thread, OpenCV's colour conversions). Then the real CREMA-D sample clips (where present), with
dlib and with mediapipe finding the face in every frame. Writes bench/results/video.json and .md.
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

FAST = "ultrafast"  # anonymize_video's default: x264 ultrafast, OpenCV's colour conversions
CONFIGS = [  # label, face, voice, detect every k-th frame, detector upsampling, front-end, encoder preset
    ("face_pixelate + mcadams, detect every frame", {"type": "face_pixelate"}, {"type": "mcadams"}, 1, 1, "dlib", FAST),
    ("face_pixelate + mcadams, detect every 5th frame", {"type": "face_pixelate"}, {"type": "mcadams"}, 5, 1, "dlib",
     FAST),
    ("face_pixelate + mcadams, detect every frame, upsample 0", {"type": "face_pixelate"}, {"type": "mcadams"}, 1, 0,
     "dlib", FAST),
    ("face_pixelate + mcadams, mediapipe every frame", {"type": "face_pixelate"}, {"type": "mcadams"}, 1, 1,
     "mediapipe", FAST),
    ("face_pixelate + mcadams, mediapipe every frame, FFmpeg's defaults", {"type": "face_pixelate"},
     {"type": "mcadams"}, 1, 1, "mediapipe", None),
    ("face_blur + mcadams, detect every frame", {"type": "face_blur"}, {"type": "mcadams"}, 1, 1, "dlib", FAST),
    ("face_autoencoder + voice_vq, detect every frame", {"type": "face_autoencoder", "size": 64, "epochs": 3},
     {"type": "voice_vq", "k": 16}, 1, 1, "dlib", FAST),
    ("pseudo_face + mcadams, mediapipe every frame", {"type": "pseudo_face", "region": "face", "colour": "mean"},
     {"type": "mcadams"}, 1, 1, "mediapipe", FAST),
]
CREMA = [  # on the real CREMA-D clips: the two front-ends, every frame
    ("face_pixelate + mcadams, dlib every frame", {"type": "face_pixelate"}, "dlib", FAST),
    ("face_pixelate + mcadams, mediapipe every frame", {"type": "face_pixelate"}, "mediapipe", FAST),
    ("face_pixelate + mcadams, mediapipe every frame, FFmpeg's defaults", {"type": "face_pixelate"}, "mediapipe",
     None),
    ("pseudo_face + mcadams, mediapipe every frame", {"type": "pseudo_face", "region": "face", "colour": "mean"},
     "mediapipe", FAST),
]


def fitted_face(spec: dict, yale: Path):  # noqa: ANN201
    """The face anonymizer; pseudo_face fitted on Yale's other subjects (its pool never holds the
    clip's person, Yale's subject02). The others are fitted on the clip by ``fit_on_videos``."""
    from privemo.anonymize.face_batch import fit_faces, pool_files

    face = create_face_anonymizer(spec)
    if face.fits_on_others:
        paths, subjects = pool_files(yale, "yale")
        keep = [i for i, s in enumerate(subjects) if not s.endswith("02")]
        fit_faces(face, [paths[i] for i in keep], 64, subjects=[subjects[i] for i in keep])
    return face


def crema_rtf(data: Path, yale: Path, tmp: Path) -> dict[str, dict[str, float]]:
    """RTF and faces found on the CREMA-D sample's clips, every frame detected: each clip's wall time
    (start to written file), the best of two passes over the six clips, after one untimed clip that
    loads the models (as ``privemo anonymize video`` does once per run)."""
    clips = sorted((data / "crema-d-sample" / "VideoFlash").glob("*.flv"))
    if not clips or not (yale / "subject01.normal").is_file():
        print("CREMA-D sample or Yale not found: the real-clip part is left out")
        return {}
    out: dict[str, dict[str, float]] = {}
    duration = sum(read_video(c, with_audio=False).duration for c in clips)
    for label, preset in (("decode + encode only, FFmpeg's defaults (baseline)", None),
                          (f"decode + encode only, fast path ({FAST})", FAST)):
        total = sum(min(plain(c, tmp / f"{c.stem}.mp4", preset) for _ in range(2)) for c in clips)
        out[label] = {"seconds": total, "rtf": total / duration}
    for label, fspec, detector, preset in CREMA:
        face, voice = fitted_face(fspec, yale), create_anonymizer({"type": "mcadams"})
        fit_on_videos(face, voice, clips, fit_face=not face.fits_on_others)
        tracker = TrackerConfig(detector=detector)
        anonymize_video(clips[0], tmp / "warm.mp4", face, voice, "warm", tracker=tracker, preset=preset)
        best: dict[Path, float] = {}
        found, frames = 0, 0
        for _ in range(2):
            found, frames = 0, 0
            for c in clips:
                s = anonymize_video(c, tmp / f"{c.stem}.mp4", face, voice, c.name, tracker=tracker, preset=preset)
                best[c] = min(best.get(c, np.inf), s.wall_s)
                found, frames = found + s.detected_frames, frames + s.frames
        total = sum(best.values())
        out[label] = {"seconds": total, "rtf": total / duration, "detected_frames": found, "frames": frames}
    return out


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


def plain(src: Path, dst: Path, preset: str | None = None) -> float:
    t0 = time.perf_counter()
    clip = read_video(src, sr=None, fast=preset is not None)
    write_video(dst, clip.frames, clip.fps, clip.audio, clip.sr, preset=preset, threads=1 if preset else 0)
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
    fast = min(plain(src, tmp / "plain.mp4", FAST) for _ in range(2))
    results: dict[str, dict[str, float]] = {
        "decode + encode only, FFmpeg's defaults (baseline)": {"seconds": base, "frames_per_s": n / base,
                                                               "rtf": base / duration},
        f"decode + encode only, fast path ({FAST})": {"seconds": fast, "frames_per_s": n / fast, "rtf": fast / duration}}
    for label, fspec, vspec, every, upsample, detector, preset in CONFIGS:
        if fspec["type"] == "pseudo_face" and not (Path(args.yale) / "subject01.normal").is_file():
            continue
        face, voice = fitted_face(fspec, Path(args.yale)), create_anonymizer(vspec)
        fit_on_videos(face, voice, [src], fit_face=not face.fits_on_others)  # not timed
        tracker = TrackerConfig(detect_every=every, upsample=upsample, detector=detector)
        runs = [anonymize_video(src, tmp / f"out{i}.mp4", face, voice, "clip", tracker=tracker, preset=preset)
                for i in range(3)]  # the first loads the models
        s = min(runs[1:], key=lambda r: r.wall_s)
        total = s.wall_s
        results[label] = {"seconds": total, "frames_per_s": n / total, "rtf": total / duration,
                          "detect_s": s.detect_s, "detect_share": s.detect_s / total, "face_s": s.face_s,
                          "voice_s": s.voice_s, "codec_s": s.decode_s + s.encode_s,
                          "face_frames": s.face_frames, "frames": s.frames}
    lines = [f"# Video anonymization speed ({machine()})", "",
             f"One clip, {n} frames at 25 fps ({duration:.1f} s), {size[0]}x{size[1]}, {kind}, 16 kHz speech; "
             "RTF from the clip's wall time, best of two runs after one that loads the models; fitting not timed. "
             "The stages overlap (the voice beside the faces, detection as frames decode, each face made while "
             "the frame before is encoded), so their seconds add up to more than the wall time.", "",
             "| configuration | frames/s | RTF | x baseline time | detect+track s (share) | face s | voice s | "
             "decode+encode s | frames with a tracked face |", "|---|---|---|---|---|---|---|---|---|"]
    for label, r in results.items():
        r["x_baseline_time"] = r["seconds"] / base
        if "detect_s" in r:
            lines.append(f"| {label} | {r['frames_per_s']:.1f} | {r['rtf']:.3f} | {r['x_baseline_time']:.2f} | "
                         f"{r['detect_s']:.2f} ({100 * r['detect_share']:.0f}%) | {r['face_s']:.2f} | {r['voice_s']:.2f} | "
                         f"{r['codec_s']:.2f} | {r['face_frames']}/{r['frames']} |")
        else:
            lines.append(f"| {label} | {r['frames_per_s']:.1f} | {r['rtf']:.3f} | {r['x_baseline_time']:.2f} | - | - | - | "
                         f"{r['seconds']:.2f} | - |")
    crema = crema_rtf(Path(args.yale).parent, Path(args.yale), tmp)
    if crema:
        lines += ["", "The six real CREMA-D clips (`../shared/data/crema-d-sample`, 480x360 at 30 fps, about 2 s "
                  "each), the face detector on every frame; RTF = the clips' wall times (best of two passes, after "
                  "one untimed clip that loads the models) / their 12.4 s:", "",
                  "| configuration | RTF | x baseline time | frames where the detector found the face |",
                  "|---|---|---|---|"]
        cbase = next(iter(crema.values()))["seconds"]
        for label, r in crema.items():
            found = f"{r['detected_frames']}/{r['frames']}" if "frames" in r else "-"
            lines.append(f"| {label} | {r['rtf']:.3f} | {r['seconds'] / cbase:.2f} | {found} |")
    write(args.out, "video", {"clip": {"frames": n, "seconds": duration, "size": list(size), "face": kind},
                              "machine": machine(), "results": results, "crema_d": crema}, lines)


if __name__ == "__main__":
    main()
