"""Voice anonymization of RAVDESS on the local executor and on the Ray executor, with 1 and 2
workers each, in one run on this machine.

    python bench/bench_executors.py [--root ../shared/data/ravdess] [--method mcadams] [--limit N]

Every setting anonymizes the same clips (all 1,440 by default) into a fresh folder through
``anonymize_files`` (the code behind ``privemo anonymize voice``), and reports:

* files/s over the batch (Ray's start is timed on its own and left out: a cluster runs for long);
* the driver's resident memory (RSS) sampled through the batch: peak, and its growth from the first
  tenth of the files to the end (flat memory: the growth does not scale with the number of files);
* the per-unit overhead of Ray against local: (Ray wall - local wall) / files, at 1 worker;
* whether every setting wrote byte-identical outputs.
Writes bench/results/executors.{json,md}.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

from _common import machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.anonymize import create_anonymizer  # noqa: E402
from privemo.anonymize.batch import anonymize_files  # noqa: E402
from privemo.executors import make_executor  # noqa: E402

SETTINGS = (("local", 1), ("local", 2), ("ray", 1), ("ray", 2))


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


class Rss:
    """The driver's RSS (MiB), sampled every 0.2 s and at every progress step."""

    def __init__(self) -> None:
        import psutil

        self.proc = psutil.Process()
        self.samples: list[tuple[int, float]] = []  # (files done, MiB)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> float:
        mib = self.proc.memory_info().rss / 2**20
        self.peak = max(self.peak, mib)
        return mib

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.now()

    def __enter__(self) -> Rss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def step(self, done: int, total: int) -> None:
        self.samples.append((done, self.now()))


def main() -> None:
    ap = parser()
    ap.add_argument("--method", default="mcadams")
    ap.add_argument("--limit", type=int, default=None, help="only the first N clips (default all)")
    args = ap.parse_args()
    src = Path(args.root)
    if not src.is_dir():
        raise SystemExit(f"RAVDESS not found at {src}: this benchmark needs it (see ../shared/data/README.md)")
    import ray

    files = sorted(p for p in src.rglob("*") if p.suffix.lower() in (".wav", ".flac"))[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="privemo-bench-exec-"))
    inp = work / "in"
    for p in files:  # one folder tree of the chosen clips
        dst = inp / p.relative_to(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(p.resolve())
    anonymizer = create_anonymizer({"type": args.method})
    rows = []
    try:
        for kind, workers in SETTINGS:
            start_s = 0.0
            if kind == "ray":
                t0 = time.perf_counter()
                ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
                start_s = time.perf_counter() - t0
            out = work / f"out_{kind}{workers}"
            with Rss() as rss:
                before = rss.now()
                t0 = time.perf_counter()
                res = anonymize_files(anonymizer, inp, out, workers=workers, executor=make_executor(kind, workers),
                                      progress=rss.step)
                wall = time.perf_counter() - t0
            if kind == "ray":
                ray.shutdown()
            n = res.written
            tenth = next((m for d, m in rss.samples if d >= max(1, n // 10)), before)
            rows.append({"executor": kind, "workers": workers, "files": n, "failed": len(res.failed),
                         "wall_s": wall, "files_per_s": n / wall, "ray_start_s": start_s,
                         "rss_start_mib": before, "rss_tenth_mib": tenth, "rss_end_mib": rss.samples[-1][1],
                         "rss_peak_mib": rss.peak, "rss_growth_mib": rss.samples[-1][1] - tenth,
                         "transform_rtf": res.rtf, "sha256": digest(out)})
            r = rows[-1]
            print(f"{kind} x{workers}: {n} files in {wall:.1f} s ({r['files_per_s']:.1f} files/s), RSS "
                  f"{r['rss_tenth_mib']:.0f} -> {r['rss_end_mib']:.0f} MiB (peak {r['rss_peak_mib']:.0f})", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    by = {(r["executor"], r["workers"]): r for r in rows}
    n = by[("local", 1)]["files"]
    overhead_ms = 1000 * (by[("ray", 1)]["wall_s"] - by[("local", 1)]["wall_s"]) / n
    identical = len({r["sha256"] for r in rows}) == 1
    report = {"machine": machine(), "corpus": str(src), "method": args.method, "files": n, "rows": rows,
              "ray_overhead_ms_per_file": overhead_ms, "outputs_identical": identical,
              "ray2_beats_local1": by[("ray", 2)]["files_per_s"] > by[("local", 1)]["files_per_s"]}
    lines = [f"# Executors: {args.method} voice anonymization of {n} RAVDESS clips ({machine()})", "",
             "| executor | workers | files/s | wall s | Ray start s | driver RSS after 1/10 -> end (MiB) | "
             "growth MiB | peak MiB |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['executor']} | {r['workers']} | {r['files_per_s']:.1f} | {r['wall_s']:.1f} | "
                     f"{r['ray_start_s']:.1f} | {r['rss_tenth_mib']:.0f} -> {r['rss_end_mib']:.0f} | "
                     f"{r['rss_growth_mib']:+.1f} | {r['rss_peak_mib']:.0f} |")
    lines += ["", f"Ray overhead per file at 1 worker: {overhead_ms:+.1f} ms; 2 Ray workers "
              f"{'beat' if report['ray2_beats_local1'] else 'do not beat'} 1 local worker "
              f"({by[('ray', 2)]['files_per_s']:.1f} vs {by[('local', 1)]['files_per_s']:.1f} files/s); outputs "
              f"{'byte-identical' if identical else 'DIFFER'} across the four settings."]
    write(args.out, "executors", report, lines)


if __name__ == "__main__":
    main()
