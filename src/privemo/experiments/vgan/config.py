"""The PPRL-VGAN experiment config (``privemo vgan train|evaluate|figures CONFIG``): one corpus's face
crops, chen-2018's 85/15 split per subject and expression, the model recipe, and the attackers."""

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
    read_yaml,
    validate_mapping,
)

LATENT_ATTACKERS = ("svm", "cnn1d", "mlp")


class VganModelConfig(_Strict):
    """``learners.vgan.VganConfig``: the network and its training (defaults: chen-2018 §5.2)."""

    latent: int = 128
    lambda_d: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.25])
    lambda_g: list[float] = Field(default_factory=lambda: [0.108, 0.6, 0.29, 0.002])
    lr: float = 2e-4
    batch: int = 64
    iterations: int = 1000
    g_steps: int = 2
    init_std: float = 0.01
    g_loss: str = "non_saturating"
    flip: bool = True
    checkpoint_every: int = 50


class VganAttackConfig(_Strict):
    """The judges of §5.3-5.4: identifiers and expression classifiers with D2's / D3's structure
    (scenarios I, II), ``latent`` attackers on f(I) (scenario III), dlib's pretrained identification."""

    epochs: int = 20
    lr: float = 1e-3
    batch: int = 64
    scenario2_codes: int = 0  # synthesised training copies per image for scenario II (0: every identity code)
    latent: list[str] = Field(default_factory=lambda: list(LATENT_ATTACKERS))
    pretrained: bool = True
    # identity codes drawn per test image for dlib's probes (0: every code). dlib's descriptor costs
    # about 0.1 s a face on one core: 312 CK+48 test faces under all 118 codes would take over an hour
    pretrained_codes: int = Field(default=0, ge=0)

    @field_validator("latent")
    @classmethod
    def _latent(cls, v: list[str]) -> list[str]:
        bad = set(v) - set(LATENT_ATTACKERS)
        if bad:
            raise ValueError(f"unknown latent attackers {sorted(bad)}; known: {', '.join(LATENT_ATTACKERS)}")
        return v


class LeftOutConfig(_Strict):
    """§5.5: every image of this subject with this expression is kept out of training, then synthesised."""

    subject: str
    emotion: str


class VganEvalConfig(_Strict):
    name: Name
    corpus: CorpusConfig
    emotions: list[str] | None = None
    size: int = 64
    color: str = "rgb"
    detect: bool = True
    test_fraction: float = 0.15
    split: str = "subject_expression"  # hold out per subject x expression (chen-2018), or per subject only
    seed: int = 0
    # where training and the attack scenarios run: this process, or a Ray cluster (ray_address; none: a
    # local Ray with `workers` CPUs). On Ray, training runs as a chain of tasks of `checkpoint_every`
    # iterations (the checkpoint travels as bytes; the driver writes it) and the scenarios fan out
    executor: Literal["local", "ray"] = "local"
    workers: int = Field(1, ge=1, le=256)
    ray_address: str | None = None
    left_out: LeftOutConfig | None = None
    model: VganModelConfig = Field(default_factory=VganModelConfig)
    attacks: VganAttackConfig = Field(default_factory=VganAttackConfig)

    _color = field_validator("color")(classmethod(lambda cls, v: check_color(v)))

    @field_validator("size")
    @classmethod
    def _size(cls, v: int) -> int:
        if v < 16 or v % 16:
            raise ValueError("size must be a multiple of 16 (32, 48, 64)")
        return v

    @field_validator("split")
    @classmethod
    def _split(cls, v: str) -> str:
        if v not in ("subject_expression", "subject"):
            raise ValueError("split must be subject_expression (chen-2018) or subject (for corpora with one "
                             "image per subject and expression, such as Yale)")
        return v

    @model_validator(mode="after")
    def _executor(self) -> VganEvalConfig:
        check_executor_setting(self.executor, self.workers, self.ray_address)
        return self

    @field_validator("test_fraction")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError("test_fraction must lie strictly between 0 and 1")
        return v

    def vgan_config(self) -> Any:
        from privemo.learners.vgan import VganConfig

        m = self.model
        return VganConfig(size=self.size, latent=m.latent, lambda_d=tuple(m.lambda_d),  # type: ignore[arg-type]
                          lambda_g=tuple(m.lambda_g), lr=m.lr, batch=m.batch,  # type: ignore[arg-type]
                          iterations=m.iterations, g_steps=m.g_steps, init_std=m.init_std, g_loss=m.g_loss,
                          flip=m.flip, seed=self.seed, checkpoint_every=m.checkpoint_every)


def load_vgan_config(path: str | Path) -> VganEvalConfig:
    return parse_vgan_config(*read_yaml(path))


def parse_vgan_config(data: Any, source: str = "<config>") -> VganEvalConfig:
    cfg = validate_mapping(VganEvalConfig, data, source)
    try:
        cfg.vgan_config()
    except ValueError as exc:
        from privemo.errors import ConfigError

        raise ConfigError(f"{source}: model: {exc}") from exc
    return cfg
