"""Real-time factor of every voice anonymizer on one thread, against McAdams in the same run.

    python bench/bench_voice.py [--root ../shared/data/ravdess] [--clips 40]

RAVDESS clips (the synthetic demo corpus where RAVDESS is absent), every k-th clip of the corpus so
that all actors and emotions are in; each method is fitted on the same clips (fitting is not
timed), then each clip is transformed once with numpy/BLAS and torch on one thread. RTF =
transform seconds / audio seconds (lower is faster; 1.0 = real time); ``x McAdams`` divides by the
McAdams (VoicePrivacy B2) RTF of the same run. Reading and writing files are not counted. Writes
bench/results/voice.json and .md.
"""

from __future__ import annotations

import time

import numpy as np
from _common import corpus, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.anonymize import clip_of, create_anonymizer  # noqa: E402
from privemo.corpora import Manifest  # noqa: E402

METHODS = [
    ("mcadams (B2, alpha 0.8)", {"type": "mcadams"}),
    ("voice_vq k16, fast Griffin-Lim 32 it.", {"type": "voice_vq", "k": 16}),
    ("voice_vq k16, WORLD", {"type": "voice_vq", "k": 16, "vocoder": "world"}),
    ("noise eps 500", {"type": "noise", "epsilon": 500}),
    ("pseudo_speaker (defaults)", {"type": "pseudo_speaker"}),
]


def main() -> None:
    ap = parser()
    ap.add_argument("--clips", type=int, default=40)
    args = ap.parse_args()
    manifest, name = corpus(args.root)
    step = max(1, len(manifest) // args.clips)
    sub = Manifest(manifest.df.iloc[::step].head(args.clips))
    clips = [clip_of(r) for r in sub.df.to_dict("records")]
    audio_s = sum(len(c.audio) / c.sr for c in clips)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    results = {}
    for label, spec in METHODS:
        an = create_anonymizer(spec).fit(sub)
        with threadpool_limits(1):
            t0 = time.perf_counter()
            for c in clips:
                an.transform(c)
            spent = time.perf_counter() - t0
        results[label] = {"rtf": spent / audio_s, "seconds": spent}
    base = results[METHODS[0][0]]["rtf"]
    lines = [f"# Voice anonymizers: real-time factor on one thread ({machine()})", "",
             f"{len(clips)} {name} clips, {audio_s:.1f} s of audio; fitting not timed.", "",
             "| method | RTF | x McAdams |", "|---|---|---|"]
    for label, r in results.items():
        r["x_mcadams"] = r["rtf"] / base
        lines.append(f"| {label} | {r['rtf']:.4f} | {r['x_mcadams']:.2f} |")
    write(args.out, "voice", {"corpus": name, "clips": len(clips), "audio_s": audio_s, "machine": machine(),
                              "results": results, "median_clip_s": float(np.median([len(c.audio) / c.sr for c in clips]))},
          lines)


if __name__ == "__main__":
    main()
