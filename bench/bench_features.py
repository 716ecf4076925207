"""Feature-extraction throughput (files/s) on RAVDESS, against a librosa baseline in the same run.

    python bench/bench_features.py [--root ../shared/data/ravdess] [--limit N]

Measures, over the same files and after one warm-up file each (best of 3 passes for the fast ones):
  * decode only (soundfile + resampling): the floor every extractor pays;
  * MFB 40-d, privemo's numpy implementation, vs librosa.feature.melspectrogram (same framing);
  * eGeMAPSv02 and ComParE_2016 functionals (openSMILE);
  * reading MFB back from privemo's content-keyed cache.
Writes bench/results/features.json and bench/results/features.md. Where RAVDESS is absent it says
so and measures on the synthetic demo corpus instead.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from _common import corpus as load_corpus  # noqa: E402
from _common import machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.features import FeatureCache, extract, log_mel  # noqa: E402
from privemo.media import read_audio  # noqa: E402


def timed(fn, paths, repeat=1):
    """Best of ``repeat`` passes over ``paths`` (after a warm-up call: imports, lazy models)."""
    fn(paths[0])
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for p in paths:
            fn(p)
        best = min(best, time.perf_counter() - t0)
    return {"files": len(paths), "seconds": round(best, 3), "files_per_s": round(len(paths) / best, 2),
            "passes": repeat}


def librosa_mfb(path):
    import librosa

    x, _ = read_audio(path, 16000)
    s = librosa.feature.melspectrogram(y=np.pad(x, (56, 0)), sr=16000, n_fft=512, win_length=400, hop_length=160,
                                       window=np.hamming(400), center=False, power=2.0, n_mels=40, htk=True,
                                       norm=None)
    return np.log(np.maximum(s, 1e-10)).T


def main() -> None:
    ap = parser()
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files (0 = all)")
    args = ap.parse_args()
    manifest, corpus = load_corpus(args.root)
    if args.limit:
        manifest = manifest.subset(list(range(min(args.limit, len(manifest)))))
    paths = manifest["path"].tolist()
    from privemo.features.extractors import get_extractor

    results = {
        "decode_only": timed(lambda p: read_audio(p, 16000), paths, 3),
        "mfb_privemo_numpy": timed(lambda p: log_mel(read_audio(p, 16000)[0]), paths, 3),
        "mfb_librosa_baseline": timed(librosa_mfb, paths, 3),
    }
    eg, cp = get_extractor("egemaps"), get_extractor("compare")
    results["egemaps_functionals"] = timed(lambda p: eg.compute({"path": p, "media": "audio"}), paths)
    results["compare_functionals"] = timed(lambda p: cp.compute({"path": p, "media": "audio"}), paths)
    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(tmp)
        extract(manifest, "mfb", cache)
        t0 = time.perf_counter()
        extract(manifest, "mfb", cache)
        dt = time.perf_counter() - t0
        results["mfb_from_cache"] = {"files": len(paths), "seconds": round(dt, 3),
                                     "files_per_s": round(len(paths) / dt, 2)}
    speedup = results["mfb_privemo_numpy"]["files_per_s"] / results["mfb_librosa_baseline"]["files_per_s"]
    report = {"corpus": corpus, "files": len(paths), "machine": machine(), "results": results,
              "mfb_speedup_vs_librosa": round(speedup, 2)}
    lines = [f"# Feature extraction throughput ({corpus}, {len(paths)} files, {report['machine']})", "",
             "| extractor | files/s | seconds |", "|---|---|---|"]
    lines += [f"| {k} | {v['files_per_s']} | {v['seconds']} |" for k, v in results.items()]
    lines += ["", f"MFB: privemo numpy is {speedup:.2f}x the librosa baseline (same files, same run).",
              "Command: `python bench/bench_features.py`"]
    write(args.out, "features", report, lines)

if __name__ == "__main__":
    main()
