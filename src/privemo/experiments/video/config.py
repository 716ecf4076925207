"""The audio-visual evaluation config (``privemo evaluate video CONFIG``): ranade's multimodal
pipeline on clips with sound, every (face, voice) anonymizer pair side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

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


class VideoMethodConfig(_Strict):
    """One protection: a face anonymizer for the frames and a voice anonymizer for the track."""

    name: Name
    face: dict[str, Any]
    voice: dict[str, Any]

    @field_validator("face")
    @classmethod
    def _face(cls, v: dict[str, Any]) -> dict[str, Any]:
        return component("anonymizer", v, "face_blur, face_pixelate, face_autoencoder, face_vgan")

    @field_validator("voice")
    @classmethod
    def _voice(cls, v: dict[str, Any]) -> dict[str, Any]:
        return component("anonymizer", v, "original, mcadams, voice_vq, noise, pseudo_speaker")


class FusionConfig(_Strict):
    """Late fusion p = weight * p_face + (1 - weight) * p_voice of per-clip class probabilities."""

    weight: float = 0.6  # ranade: 60 / 40 face / voice
    face: str = "cnn"  # which face model's probabilities are fused: cnn, fer or mean (of both)
    tune: bool = False  # also choose the weight per fold by inner cross-validation on its training speakers

    @field_validator("weight")
    @classmethod
    def _w(cls, v: float) -> float:
        if not 0.0 <= v <= 1.0:
            raise ValueError("weight must be in [0, 1]")
        return v

    @field_validator("face")
    @classmethod
    def _face(cls, v: str) -> str:
        if v not in ("cnn", "fer", "mean"):
            raise ValueError("face must be cnn, fer or mean")
        return v


class TrackerSettings(_Strict):
    detect_every: int = Field(1, le=1000)
    detect_width: int = Field(320, ge=32, le=8192)
    max_gap: int = 12
    smooth: int = 2
    detector: str = "dlib"  # the face front-end (a registered face_detector)

    @field_validator("detector")
    @classmethod
    def _detector(cls, v: str) -> str:
        from privemo.registry import names

        if v not in names("face_detector"):
            raise ValueError(f"detector must be one of {', '.join(names('face_detector'))}")
        return v


class VideoEvalConfig(_Strict):
    name: Name
    corpus: CorpusConfig
    max_clips_per_speaker: int | None = None  # a stratified subset (emotions kept balanced)
    analysis_fps: float = Field(5.0, le=120)  # frames per second looked at by the emotion models and face attackers
    face_size: int = Field(48, ge=16, le=512)  # face crops of the emotion CNN and the identity classifiers
    detect: bool = True  # dlib detection + alignment of each analysed frame (a centre crop where none)
    dlib_frames: int = 4  # frames per clip the pretrained dlib attacker describes (its ResNet is slow on a CPU)
    folds: int = Field(4, le=100)  # speaker-independent folds (emotion) and the speaker-level enrol / trial split
    seed: int = 0
    epochs: int = 12  # the emotion CNN and the identity CNNs
    emotion_features: str = "compare"  # the voice emotion model's features (speaker-normalised)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    tracker: TrackerSettings = Field(default_factory=lambda: TrackerSettings.model_validate({}))
    margin: float = 0.25
    no_face: str = "whole"
    examples: int = 2  # clips per method shown (playable) in the report
    workers: int = 2
    # where the clips are anonymized: this process, or a Ray cluster (ray_address; none: a local Ray
    # with `workers` CPUs); features and attackers run here
    executor: Literal["local", "ray"] = "local"
    ray_address: str | None = None
    methods: list[VideoMethodConfig] = Field(min_length=1)
    # the attackers and utility models (registered video judges, {type: NAME, params...}); none: every
    # built-in one (emotion per modality and fused, face identification, speaker attacks)
    judges: list[dict[str, Any]] | None = None

    @field_validator("judges")
    @classmethod
    def _judges(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v is not None and not any(j.get("type") == "av_emotion" for j in v):
            raise ValueError("the list needs av_emotion (the emotion every method is judged by)")
        return None if v is None else check_judges(v, "video")

    def judge_specs(self) -> list[dict[str, Any]]:
        """The judges this evaluation runs, in order."""
        if self.judges is not None:
            return [dict(j) for j in self.judges]
        return [{"type": "av_emotion"}, {"type": "face_id"}, {"type": "av_speaker"}]

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[VideoMethodConfig]) -> list[VideoMethodConfig]:
        return unique_methods(v)

    @field_validator("face_size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v < 16 or v % 8:
            raise ValueError("face_size must be a multiple of 8, at least 16")
        return v

    @field_validator("folds")
    @classmethod
    def _folds(cls, v: int) -> int:
        if v < 2:
            raise ValueError("folds must be at least 2")
        return v

    @field_validator("no_face")
    @classmethod
    def _no_face(cls, v: str) -> str:
        if v not in ("whole", "keep"):
            raise ValueError("no_face must be whole or keep")
        return v


    @model_validator(mode="after")
    def _tune_folds(self) -> VideoEvalConfig:
        if self.fusion.tune and self.folds < 3:
            raise ValueError("fusion.tune chooses each fold's weight by cross-validation inside its training "
                             "folds: it needs folds >= 3")
        from privemo.experiments.config import check_executor_setting

        check_executor_setting(self.executor, 1, self.ray_address)
        return self


def parse_video_config(data: Any, source: str = "<config>") -> VideoEvalConfig:
    return validate_mapping(VideoEvalConfig, data, source)


def load_video_config(path: str | Path) -> VideoEvalConfig:
    return parse_video_config(*read_yaml(path))
