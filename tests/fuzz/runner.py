"""Run fuzz cases through the real ``privemo`` CLI and judge each outcome.

    python -m tests.fuzz.runner                 # every case (about 1,700), a summary per kind
    python -m tests.fuzz.runner --sample 60     # a stratified sample (what ``make test`` runs)
    python -m tests.fuzz.runner --kind image --show 5

Each case runs in a child process forked from one warm parent (privemo, torch and the media
libraries imported once), in its own empty folder and process group, with a wall-clock limit. The
outcome is one of:

- ``clean``: a non-zero exit whose output names the bad input (one of the case's tokens) and holds
  no traceback;
- ``accepted``: exit 0 with outputs that pass the case's sanity check;
- failures: ``traceback`` (an exception escaped), ``hang`` (past the limit), ``unnamed`` (an error
  that does not say which input), ``bad-output`` (accepted, but the output is broken or unsafe),
  ``crash`` (killed by a signal).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("COLUMNS", "400")

from tests.fuzz.cases import FIFO, KINDS, Case, all_cases  # noqa: E402

FAILURES = ("traceback", "hang", "unnamed", "bad-output", "crash")


@dataclass
class Outcome:
    case: Case
    result: str
    code: int | None
    seconds: float
    output: str
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.result in FAILURES


def _lay_out(case: Case, root: Path) -> None:
    for rel, data in case.files.items():
        path = root / os.fsencode(rel).decode("utf-8", "surrogateescape")
        raw = os.fsencode(path)
        os.makedirs(os.path.dirname(raw), exist_ok=True)
        if data is None:
            os.makedirs(raw, exist_ok=True)
        elif data == FIFO:
            os.mkfifo(raw)
        else:
            with open(raw, "wb") as fh:
                fh.write(data)


def _child(case: Case, folder: Path, out_file: Path) -> None:
    """In the forked child: run the CLI in ``folder``; the exit code says how it ended."""
    os.setpgid(0, 0)
    fd = os.open(out_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the real descriptors, not a test runner's capture
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    os.chdir(folder)
    code = 0
    try:
        from privemo.cli.main import app

        app(args=case.args, prog_name="privemo", standalone_mode=True)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the very thing the fuzz looks for
        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _normal(text: str) -> str:
    return re.sub(r"\s+", "", text)


def judge(case: Case, code: int | None, output: str, folder: Path, timed_out: bool, signalled: int | None) -> tuple[str, str]:
    if timed_out:
        return "hang", f"past {case.timeout:.0f} s"
    if signalled is not None:
        return "crash", f"signal {signalled}"
    if "Traceback (most recent call last)" in output or code == 70:
        return "traceback", output.strip().splitlines()[-1][:300] if output.strip() else ""
    if code == 0:
        if case.check is not None:
            problem = case.check(folder)
            if problem:
                return "bad-output", problem
        return "accepted", ""
    flat = _normal(output)
    if any(_normal(t) and _normal(t) in flat for t in case.names):
        return "clean", ""
    return "unnamed", output.strip()[-300:]


def run_cases(cases: list[Case], jobs: int = 2, progress: bool = True) -> list[Outcome]:
    """Run every case, ``jobs`` at a time; their outcomes in the cases' order."""
    import privemo.anonymize  # noqa: F401
    import privemo.anonymize.face  # noqa: F401
    import privemo.anonymize.video  # noqa: F401
    import privemo.cli.main  # noqa: F401 - warm imports before forking
    import privemo.experiments  # noqa: F401

    base = Path(tempfile.mkdtemp(prefix="privemo-fuzz-"))
    outcomes: dict[int, Outcome] = {}
    running: dict[int, tuple[int, Case, Path, Path, float]] = {}
    todo = list(enumerate(cases))
    t_start = time.time()
    try:
        while todo or running:
            while todo and len(running) < jobs:
                i, case = todo.pop(0)
                folder = base / f"c{i}"
                folder.mkdir()
                _lay_out(case, folder)
                out_file = base / f"c{i}.out"
                pid = os.fork()
                if pid == 0:
                    _child(case, folder, out_file)
                running[pid] = (i, case, folder, out_file, time.time())
            time.sleep(0.02)
            for pid, (i, case, folder, out_file, t0) in list(running.items()):
                done, status = os.waitpid(pid, os.WNOHANG)
                timed_out = not done and time.time() - t0 > case.timeout
                if timed_out:
                    try:
                        os.killpg(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    _, status = os.waitpid(pid, 0)
                elif not done:
                    continue
                _kill_group(pid)
                code = os.waitstatus_to_exitcode(status)
                signalled = -code if code < 0 and not timed_out else None
                output = out_file.read_text(errors="replace") if out_file.exists() else ""
                result, detail = judge(case, code if code >= 0 else None, output, folder, timed_out, signalled)
                outcomes[i] = Outcome(case, result, code, time.time() - t0, output, detail)
                del running[pid]
                shutil.rmtree(folder, ignore_errors=True)
                if progress:
                    n = len(outcomes)
                    bad = sum(o.failed for o in outcomes.values())
                    print(f"\r{n}/{len(cases)} cases, {bad} failed, {time.time() - t_start:.0f} s", end="",
                          file=sys.stderr, flush=True)
    finally:
        for pid in running:
            _kill_group(pid)
        shutil.rmtree(base, ignore_errors=True)
    if progress:
        print(file=sys.stderr)
    return [outcomes[i] for i in range(len(cases))]


def _kill_group(pid: int) -> None:
    """Whatever the case left running in its process group (workers) is stopped."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def sample(cases: list[Case], n: int, seed: int = 0) -> list[Case]:
    """About ``n`` cases, the same share of each kind, drawn reproducibly."""
    import random

    rng = random.Random(seed)
    by_kind: dict[str, list[Case]] = collections.defaultdict(list)
    for c in cases:
        by_kind[c.kind].append(c)
    per = max(1, n // len(by_kind))
    out: list[Case] = []
    for kind in KINDS:
        pool = by_kind.get(kind, [])
        out += rng.sample(pool, min(per, len(pool)))
    return out


def summary(outcomes: list[Outcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for o in outcomes:
        row = table.setdefault(o.case.kind, collections.Counter())  # type: ignore[arg-type]
        row[o.result] += 1
        row["cases"] += 1
    return {k: dict(v) for k, v in table.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=0, help="run a stratified sample of this many cases")
    ap.add_argument("--kind", action="append", choices=KINDS, help="only these kinds")
    ap.add_argument("--match", default="", help="only cases whose name contains this")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=float, default=1.0, help="draw this share of the random mutations")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--show", type=int, default=20, help="failures printed in full")
    ap.add_argument("--json", type=Path, help="write the counts per kind and every failure here")
    args = ap.parse_args(argv)
    cases = all_cases(args.seed, args.scale)
    if args.kind:
        cases = [c for c in cases if c.kind in args.kind]
    if args.match:
        cases = [c for c in cases if args.match in c.name]
    if args.sample:
        cases = sample(cases, args.sample, args.seed)
    outcomes = run_cases(cases, args.jobs)
    table = summary(outcomes)
    cols = ["cases", "clean", "accepted", *FAILURES]
    print("| kind | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for kind in KINDS:
        if kind in table:
            print(f"| {kind} | " + " | ".join(str(table[kind].get(c, 0)) for c in cols) + " |")
    total = collections.Counter()
    for row in table.values():
        total.update(row)
    print("| all | " + " | ".join(str(total.get(c, 0)) for c in cols) + " |")
    failed = [o for o in outcomes if o.failed]
    for o in failed[: args.show]:
        print(f"\n--- {o.result}: {o.case.name}\n    privemo {' '.join(o.case.args)}\n    {o.detail}")
    if args.json:
        args.json.write_text(json.dumps({"counts": table, "failures": [
            {"case": o.case.name, "args": o.case.args, "result": o.result, "detail": o.detail} for o in failed]},
            indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
