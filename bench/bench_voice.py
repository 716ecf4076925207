"""Real-time factor of every voice anonymizer of a voice evaluation config, against McAdams in the
same run.

    python bench/bench_voice.py [--root ../shared/data/ravdess] [--clips 40] [--config configs/voice/ravdess.yaml]

Every method of ``--config`` (default: the RAVDESS evaluation's, every pseudo_speaker setting
included) plus McAdams (VoicePrivacy B2, alpha 0.8: the baseline), voice_vq with WORLD and
pseudo_speaker on privemo's numpy vocoder (with and without the per-frame aperiodicity). RAVDESS
clips (the synthetic demo corpus where RAVDESS is absent), every k-th clip so that all actors and
emotions are in; each method is fitted on the same clips (fitting is not timed), then every clip is
transformed by every method in turn (interleaved, so that a change in the machine's load falls on
all methods alike) with numpy/BLAS and torch on one thread. RTF = transform seconds / audio seconds
(lower is faster; 1.0 = real time); ``x McAdams`` divides by McAdams's RTF of the same run. Reading
and writing files are not counted. Writes bench/results/voice.json and .md.
"""

from __future__ import annotations

import time

import numpy as np
from _common import ROOT, corpus, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.anonymize import clip_of, create_anonymizer  # noqa: E402
from privemo.corpora import Manifest  # noqa: E402

BASELINE = ("mcadams (B2, alpha 0.8)", {"type": "mcadams", "alpha": 0.8})
EXTRA = [("voice_vq k16, WORLD", {"type": "voice_vq", "k": 16, "vocoder": "world"}),
         ("pseudo_speaker, numpy vocoder", {"type": "pseudo_speaker", "vocoder": "fast"}),
         ("pseudo_speaker, numpy vocoder, no per-frame aperiodicity, level rms",
          {"type": "pseudo_speaker", "vocoder": "fast", "frame_aperiodicity": False, "level": "rms"})]


def methods(config: str) -> list[tuple[str, dict]]:
    from privemo.experiments.voice import load_voice_config

    cfg = load_voice_config(config)
    out = [BASELINE]
    for m in cfg.methods:
        spec = dict(m.anonymizer)
        if spec != BASELINE[1]:
            out.append((f"{m.name}: " + ", ".join(f"{k} {v}" for k, v in spec.items() if k != "type") if len(spec) > 1
                        else m.name, spec))
    return out + EXTRA


def main() -> None:
    ap = parser()
    ap.add_argument("--clips", type=int, default=40)
    ap.add_argument("--config", default=str(ROOT / "configs" / "voice" / "ravdess.yaml"))
    args = ap.parse_args()
    todo = methods(args.config)  # the config is checked before any work
    manifest, name = corpus(args.root)
    step = max(1, len(manifest) // args.clips)
    sub = Manifest(manifest.df.iloc[::step].head(args.clips))
    clips = [clip_of(r) for r in sub.df.to_dict("records")]
    audio_s = sum(len(c.audio) / c.sr for c in clips)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    fitted = [(label, create_anonymizer(spec).fit(sub)) for label, spec in todo]
    spent = {label: 0.0 for label, _ in fitted}
    with threadpool_limits(1):
        for c in clips:
            for label, an in fitted:
                t0 = time.perf_counter()
                an.transform(c)
                spent[label] += time.perf_counter() - t0
    results = {label: {"rtf": spent[label] / audio_s, "seconds": spent[label], "anonymizer": spec}
               for label, spec in todo}
    base = results[BASELINE[0]]["rtf"]
    lines = [f"# Voice anonymizers: real-time factor on one thread ({machine()})", "",
             f"{len(clips)} {name} clips, {audio_s:.1f} s of audio, every method on every clip in turn; "
             f"fitting not timed; methods of {args.config}.", "",
             "| method | RTF | x McAdams |", "|---|---|---|"]
    for label, r in results.items():
        r["x_mcadams"] = r["rtf"] / base
        lines.append(f"| {label} | {r['rtf']:.4f} | {r['x_mcadams']:.2f} |")
    write(args.out, "voice", {"corpus": name, "clips": len(clips), "audio_s": audio_s, "machine": machine(),
                              "config": args.config, "results": results,
                              "median_clip_s": float(np.median([len(c.audio) / c.sr for c in clips]))},
          lines)


if __name__ == "__main__":
    main()
