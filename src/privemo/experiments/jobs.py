"""Every job privemo runs, in one table: how a config names it (its keys), how its config is read,
what runs it, how its results are recognised, what draws its report and what its verdicts are.
``privemo run``, ``check``, ``report`` and ``compare`` read this table; adding a job is one row here.

A job's pieces are named ``module:attribute`` and imported when used, so reading the table costs
nothing (the command line stays fast).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from privemo.errors import ConfigError

__all__ = ["JOBS", "Job", "config_job", "job", "job_of_rows"]


@dataclass(frozen=True)
class Job:
    name: str
    title: str
    #: a config is this job's when it has any of these top-level keys (checked in table order)
    keys: tuple[str, ...]
    #: ``(data, source) -> config``: a parsed mapping validated, every component checked
    parse: str
    #: ``(config, run_dir, data_root, *, progress, log) -> object with run(only, force)``
    runner: str
    #: ``(rows) -> bool``: results.jsonl rows this job wrote
    rows: Callable[[dict[str, Any]], bool]
    #: ``(run_dir) -> dict``: draws report.md / report.html from the results alone
    report: str
    #: ``(rows, config mapping) -> [Verdict]``: what its report opens with (``privemo compare`` reads it)
    verdicts: str
    #: what selects some of its units on the command line (None: no selection)
    select: str | None = None
    #: whether ``--executor`` / ``--ray-address`` apply
    executor: bool = True
    #: ``(data) -> bool``: a config is this job's without any of ``keys`` (checked after every job's keys)
    fallback: Callable[[dict[str, Any]], bool] | None = None

    def attr(self, which: str) -> Any:
        module, name = getattr(self, which).split(":")
        return getattr(importlib.import_module(module), name)

    def run_verdicts(self, rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
        return self.attr("verdicts")(rows, cfg)

    def load(self, path: str | Path) -> Any:
        from privemo.experiments.config import read_yaml

        return self.attr("parse")(*read_yaml(path))


def _is_video(data: dict[str, Any]) -> bool:
    methods = data.get("methods")
    return isinstance(methods, list) and any(isinstance(m, dict) and ("face" in m or "voice" in m) for m in methods)


_E = "privemo.experiments"
JOBS: dict[str, Job] = {j.name: j for j in (
    Job("representation", "representations (folds x seeds x variants, evaluators): privemo run's experiment", ("evaluators",),
        f"{_E}.config:parse_config", f"{_E}.jobs:_representation_runner",
        lambda r: "variant" in r and "evaluator" in r, f"{_E}.report:write_report", f"{_E}.jobs:_representation_verdicts"),
    Job("federated", "federated learning (Flower)", ("rounds", "loso", "strategy", "attack"),
        f"{_E}.federated.config:parse_federated_config", f"{_E}.jobs:_federated_runner",
        lambda r: r.get("kind") in ("federated", "centralised"), f"{_E}.federated.report:write_federated_report",
        f"{_E}.jobs:_federated_verdicts", executor=False),
    Job("face", "faces: narula-2020 and the face anonymizers", ("narula", "anonymizers"),
        f"{_E}.face.config:parse_face_config", f"{_E}.face.runner:FaceEvaluation", lambda r: "part" in r,
        f"{_E}.face.report:write_face_report", f"{_E}.jobs:_face_verdicts", select="part"),
    Job("vgan", "PPRL-VGAN", ("attacks", "left_out", "test_fraction", "model"),
        f"{_E}.vgan.config:parse_vgan_config", f"{_E}.jobs:_vgan_runner", lambda r: "unit" in r,
        f"{_E}.vgan.report:write_vgan_report", f"{_E}.jobs:_vgan_verdicts"),
    Job("video", "audio-visual anonymization", (), f"{_E}.video.config:parse_video_config",
        f"{_E}.video.runner:VideoEvaluation", lambda r: "face_id" in r and "method" in r,
        f"{_E}.video.report:write_video_report", f"{_E}.jobs:_video_verdicts", select="method",
        fallback=_is_video),
    Job("voice", "voice anonymization", (), f"{_E}.voice.config:parse_voice_config",
        f"{_E}.voice.runner:VoiceEvaluation", lambda r: "verification" in r and "method" in r,
        f"{_E}.voice.report:write_voice_report", f"{_E}.jobs:_voice_verdicts", select="method",
        fallback=lambda d: "methods" in d),
)}


ALIASES = {"experiment": "representation"}


def job(name: str) -> Job:
    name = ALIASES.get(name, name)
    if name not in JOBS:
        raise ConfigError(f"job {name!r}: privemo knows {', '.join(JOBS)}")
    return JOBS[name]


def config_job(data: object) -> Job:
    """The job a parsed config is for, from its keys (a config of none of them: an experiment, whose
    validation then names what is missing)."""
    if isinstance(data, dict):
        for j in JOBS.values():
            if any(k in data for k in j.keys):
                return j
        for j in JOBS.values():
            if j.fallback is not None and j.fallback(data):
                return j
    return JOBS["representation"]


def job_of_rows(rows: list[dict[str, Any]]) -> Job:
    """The job that wrote these results.jsonl rows (a ConfigError when none did)."""
    r = rows[0]
    # the media jobs first: their rows are the most specific
    for name in ("voice", "video", "face", "vgan", "federated", "representation"):
        if JOBS[name].rows(r):
            return JOBS[name]
    raise ConfigError(f"results.jsonl: rows of no job privemo knows ({', '.join(JOBS)})")


# ---- runners whose constructors take other arguments ---------------------------------------------
def _representation_runner(cfg: Any, run_dir: Path, data_root: Path, *, progress: Any, log: Any) -> Any:
    from privemo.experiments.runner import Runner

    return Runner(cfg, run_dir, data_root, progress=progress, log=log)


def _federated_runner(cfg: Any, run_dir: Path, data_root: Path, *, progress: Any, log: Any) -> Any:
    from privemo.experiments.federated.runner import FederatedExperiment

    return FederatedExperiment(cfg, run_dir, data_root, log=log, progress=progress)


def _vgan_runner(cfg: Any, run_dir: Path, data_root: Path, *, progress: Any, log: Any) -> Any:
    from privemo.experiments.vgan.runner import VganExperiment

    return VganExperiment(cfg, run_dir, data_root, progress=progress, log=log)


# ---- each job's verdicts as (rows, config mapping) -> [Verdict] ------------------------------------
def _voice_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.voice.report import verdicts

    return verdicts(rows)


def _video_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.video.report import verdicts

    return verdicts(rows)


def _vgan_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.vgan.report import verdicts

    return verdicts(rows)


def _representation_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.report import paper_table, summarize, verdicts

    summary = summarize(rows)
    return verdicts(paper_table(summary, rows), summary, rows, cfg)


def _federated_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.federated.report import summarize, verdicts

    order = [v["name"] for v in cfg.get("variants", []) if isinstance(v, dict) and "name" in v] or None
    return verdicts(summarize(rows, order))


def _face_verdicts(rows: list[dict[str, Any]], cfg: dict[str, Any]) -> list[Any]:
    from privemo.experiments.face.report import verdicts

    return verdicts([r for r in rows if r.get("part") == "narula"], [r for r in rows if r.get("part") == "anonymizer"])
