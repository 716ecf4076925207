"""The voice anonymization evaluation config (``privemo evaluate voice CONFIG``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from privemo.evaluators.base import Classifier
from privemo.experiments.config import (
    CorpusConfig,
    Name,
    _Strict,
    check_judges,
    component,
    read_yaml,
    unique_methods,
    validate_mapping,
)


class MethodConfig(_Strict):
    """One anonymizer to evaluate. ``curve``/``x`` place it on a trade-off curve (e.g. voice_vq / k)."""

    name: Name
    anonymizer: dict[str, Any]
    curve: str | None = None
    x: float | None = None

    @field_validator("anonymizer")
    @classmethod
    def _has_type(cls, v: dict[str, Any]) -> dict[str, Any]:
        return component("anonymizer", v, "original, mcadams, voice_vq, noise, pseudo_speaker")


class FineTuneConfig(_Strict):
    """The fine-tuned attacker (:mod:`privemo.attacks.finetuned`): ``steps`` GE2E updates per fold of
    ``speakers`` x ``clips`` random 1.6 s partials of the other folds' anonymized speech; 0 steps: off."""

    steps: int = Field(100, ge=0, le=100_000)
    speakers: int = Field(8, ge=2, le=1000)
    clips: int = Field(4, ge=2, le=100)
    lr: float = Field(1e-4, gt=0, le=0.1)


class VoiceEvalConfig(_Strict):
    name: Name
    corpus: CorpusConfig
    methods: list[MethodConfig] = Field(min_length=1)
    folds: int = Field(4, ge=2, le=100)  # speaker-independent folds (gender attacker, emotion, the LDA back-end)
    seed: int = 0
    workers: int = Field(2, ge=1, le=256)  # processes anonymizing and extracting features
    # where the anonymization runs: local processes, or a Ray cluster (ray_address; none: a local Ray
    # with `workers` CPUs); feature extraction and the attackers run here
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    max_items_per_speaker: int | None = Field(None, ge=1)  # a subset (every speaker kept), for quick curves
    # which speakers: all, or one half of them (within each gender, every second speaker in sorted
    # order: even = the 1st, 3rd, ...; odd = the 2nd, 4th, ...): choose settings on one half, report on the other
    speakers: Literal["all", "even", "odd"] = "all"
    finetune: FineTuneConfig = FineTuneConfig()
    emotion_features: Literal["compare", "egemaps"] = "compare"
    examples: int = Field(3, le=1000)  # listening examples per method
    rtf_clips: int = 20  # clips timed one by one on one thread for the real-time factor
    attackers: list[Classifier] = Field(default=["logreg", "gbm"], min_length=1)  # gender attacker kinds
    # the attackers and utility models (registered judges, `privemo anonymize methods`-style mappings
    # {type: NAME, params...}); none: every built-in voice judge, with `attackers` and `finetune` above
    judges: list[dict[str, Any]] | None = None

    @field_validator("judges")
    @classmethod
    def _judges(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        return None if v is None else check_judges(v, "voice")

    def judge_specs(self) -> list[dict[str, Any]]:
        """The judges this evaluation runs, in order (the default list spelled out)."""
        if self.judges is not None:
            return [dict(j) for j in self.judges]
        tuned = [{"type": "finetuned", **self.finetune.model_dump()}] if self.finetune.steps > 0 else []
        return [{"type": "verification"}, {"type": "speaker_id"}, {"type": "gender", "attackers": list(self.attackers)},
                *tuned, {"type": "similarity"}, {"type": "emotion"}]

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[MethodConfig]) -> list[MethodConfig]:
        return unique_methods(v)

    @model_validator(mode="after")
    def _executor(self) -> VoiceEvalConfig:
        from privemo.experiments.config import check_executor_setting

        check_executor_setting(self.executor, self.workers, self.ray_address)
        return self


def parse_voice_config(data: Any, source: str = "<config>") -> VoiceEvalConfig:
    return validate_mapping(VoiceEvalConfig, data, source)


def load_voice_config(path: str | Path) -> VoiceEvalConfig:
    return parse_voice_config(*read_yaml(path))
