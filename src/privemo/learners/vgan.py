"""PPRL-VGAN (chen-2018): training (eq. 5 and 6), and the uses of a trained model.

``Vgan(config).fit(images, identities, expressions)`` trains the encoder E, the decoder G and the
three-headed discriminator D on uint8 face crops (gray or colour) with integer identity and
expression labels. Each iteration is one discriminator update followed by ``g_steps`` (2, as in the
paper) generator updates, each on a fresh random mini-batch and random target identity codes c:

  D minimises  λ1D [BCE(D1(I), real) + BCE(D1(G(I, c)), fake)] + λ2D CE(D2(I), y_id) + λ3D CE(D3(I), y_e)
               (the negative of eq. 5; D2 and D3 learn on real images only);
  G minimises  λ1G ℓ(D1(G(I,c)), real) + λ2G ℓ(D2(G(I,c)), c) + λ3G ℓ(D3(G(I,c)), y_e) + λ4G KL(q(f|I) || N(0, I)).

With ``g_loss: saturating`` ℓ is eq. 6 as printed, log(1 - p); the default ``non_saturating`` uses
-log p, which has the same minimiser and does not vanish while D still rejects the fakes (the
authors' own code trains G with the cross-entropy against the target labels, i.e. this form).

Training writes a checkpoint (all weights, optimiser and generator states, the loss history) every
``checkpoint_every`` iterations and resumes from it. A trained model maps an image to f(I)
(``encode``), replaces its identity (``replace``), synthesises without an input (``synthesize``),
morphs expressions (``morph``, eq. 7) and completes masked regions (``complete``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch.nn import functional as F

from privemo._files import atomic_path
from privemo.media.image import conform_images, restore_images
from privemo.models.vgan import (
    VganDecoder,
    VganDiscriminator,
    VganEncoder,
    init_weights,
    kl_divergence,
    reparameterize,
)

Progress = Callable[[int, int, dict[str, float]], None]
G_LOSSES = ("non_saturating", "saturating")


@dataclass
class VganConfig:
    size: int = 64
    latent: int = 128
    lambda_d: tuple[float, float, float] = (0.25, 0.5, 0.25)
    lambda_g: tuple[float, float, float, float] = (0.108, 0.6, 0.29, 0.002)
    lr: float = 2e-4  # RMSprop, for E+G and for D
    batch: int = 64  # the paper: 256 (on 47k FERG images)
    iterations: int = 1000  # discriminator updates
    g_steps: int = 2  # generator updates per discriminator update
    init_std: float = 0.01
    g_loss: str = "non_saturating"
    flip: bool = True  # mirrored copies of the training faces (a mirrored face keeps identity and expression)
    seed: int = 0
    checkpoint_every: int = 100

    def __post_init__(self) -> None:
        self.lambda_d = tuple(float(v) for v in self.lambda_d)  # type: ignore[assignment]
        self.lambda_g = tuple(float(v) for v in self.lambda_g)  # type: ignore[assignment]
        if len(self.lambda_d) != 3 or len(self.lambda_g) != 4:
            raise ValueError("lambda_d takes 3 weights (λ1D..λ3D), lambda_g 4 (λ1G..λ4G)")
        if self.g_loss not in G_LOSSES:
            raise ValueError(f"g_loss must be one of {', '.join(G_LOSSES)}, got {self.g_loss!r}")
        if self.size < 16 or self.size % 16:
            raise ValueError(f"size must be a multiple of 16 (32, 48, 64), got {self.size}")
        if self.iterations < 1 or self.batch < 2 or self.g_steps < 1:
            raise ValueError("iterations and g_steps must be >= 1 and batch >= 2")

    def recipe(self) -> dict[str, Any]:
        """Everything that shapes the trained model: the config less its length and checkpoint rhythm
        (a run may be continued for longer, or checkpointed more often, and stay the same run)."""
        return {k: v for k, v in asdict(self).items() if k not in ("iterations", "checkpoint_every")}


def to_model_range(images: np.ndarray, size: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W[, 3]) -> float (N, channels, size, size) in [-1, 1] (resized, gray <-> colour)."""
    t = torch.from_numpy(conform_images(images, size, channels) / 127.5 - 1.0)
    return t.permute(0, 3, 1, 2).contiguous() if channels == 3 else t[:, None].contiguous()


def to_images(x: torch.Tensor) -> np.ndarray:
    """float (N, C, S, S) in [-1, 1] -> uint8 (N, S, S) gray or (N, S, S, 3) colour."""
    arr = ((x.detach().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return arr.transpose(0, 2, 3, 1) if arr.shape[1] == 3 else arr[:, 0]


def _save_atomic(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


@dataclass
class Vgan:
    config: VganConfig = field(default_factory=VganConfig)

    # ----- building -------------------------------------------------------------------------------
    def build(self, channels: int, identities: list[str], expressions: list[str]) -> Vgan:
        c = self.config
        torch.manual_seed(c.seed)
        self.channels_ = channels
        self.identities_ = list(identities)
        self.expressions_ = list(expressions)
        self.encoder_ = VganEncoder(channels, c.size, c.latent)
        self.decoder_ = VganDecoder(len(identities), channels, c.size, c.latent)
        self.discriminator_ = VganDiscriminator(len(identities), len(expressions), channels, c.size)
        for m in (self.encoder_, self.decoder_, self.discriminator_):
            init_weights(m, c.init_std)
        self.opt_g_ = torch.optim.RMSprop([*self.encoder_.parameters(), *self.decoder_.parameters()], lr=c.lr)
        self.opt_d_ = torch.optim.RMSprop(self.discriminator_.parameters(), lr=c.lr)
        self.gen_ = torch.Generator().manual_seed(c.seed)
        self.iteration_ = 0
        self.history_: list[dict[str, float]] = []
        self.seconds_ = 0.0
        return self

    @property
    def n_identities(self) -> int:
        return len(self.identities_)

    # ----- the objectives -------------------------------------------------------------------------
    def discriminator_loss(self, real: torch.Tensor, y_id: torch.Tensor, y_e: torch.Tensor,
                           fake: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The negative of eq. 5 and its parts (each before its weight)."""
        l1, l2, l3 = self.config.lambda_d
        r_real, id_real, e_real = self.discriminator_(real)
        r_fake, _, _ = self.discriminator_(fake)
        parts = {
            "d_real_fake": F.binary_cross_entropy_with_logits(r_real, torch.ones_like(r_real))
            + F.binary_cross_entropy_with_logits(r_fake, torch.zeros_like(r_fake)),
            "d_identity": F.cross_entropy(id_real, y_id),
            "d_expression": F.cross_entropy(e_real, y_e),
        }
        return l1 * parts["d_real_fake"] + l2 * parts["d_identity"] + l3 * parts["d_expression"], parts

    def generator_loss(self, real: torch.Tensor, y_e: torch.Tensor, code: torch.Tensor,
                       generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Eq. 6 (``g_loss`` saturating) or its non-saturating form, and its parts (before weights)."""
        l1, l2, l3, l4 = self.config.lambda_g
        mean, logvar = self.encoder_(real)
        fake = self.decoder_(reparameterize(mean, logvar, generator), code)
        r, id_logits, e_logits = self.discriminator_(fake)
        if self.config.g_loss == "saturating":  # log(1 - p) of the wanted label, minimised
            parts = {
                "g_real_fake": (-F.softplus(r)).mean(),
                "g_identity": torch.log1p(-F.softmax(id_logits, 1).gather(1, code[:, None])[:, 0].clamp(max=1 - 1e-6)).mean(),
                "g_expression": torch.log1p(-F.softmax(e_logits, 1).gather(1, y_e[:, None])[:, 0].clamp(max=1 - 1e-6)).mean(),
            }
        else:
            parts = {
                "g_real_fake": F.binary_cross_entropy_with_logits(r, torch.ones_like(r)),
                "g_identity": F.cross_entropy(id_logits, code),
                "g_expression": F.cross_entropy(e_logits, y_e),
            }
        parts["kl"] = kl_divergence(mean, logvar)
        total = l1 * parts["g_real_fake"] + l2 * parts["g_identity"] + l3 * parts["g_expression"] + l4 * parts["kl"]
        return total, parts

    # ----- training -------------------------------------------------------------------------------
    def fit(self, images: np.ndarray, identities: np.ndarray, expressions: np.ndarray,
            checkpoint: str | Path | None = None, progress: Progress | None = None) -> Vgan:
        """Train on uint8 faces with identity and expression labels (strings or ints). With
        ``checkpoint``, resumes from it when it holds a run of the same config and data classes."""
        c = self.config
        id_classes = sorted(set(np.asarray(identities).tolist()))
        e_classes = sorted(set(np.asarray(expressions).tolist()))
        if len(id_classes) < 2 or len(e_classes) < 2:
            raise ValueError("PPRL-VGAN needs at least 2 identities and 2 expressions to train on")
        arr = np.asarray(images)
        channels = 3 if arr.ndim == 4 and arr.shape[-1] == 3 else 1
        ckpt = Path(checkpoint) if checkpoint is not None else None
        if ckpt is not None and ckpt.exists():
            self.load(ckpt, resume=True).check_data(images, identities, expressions, ckpt)
        else:
            self.build(channels, [str(v) for v in id_classes], [str(v) for v in e_classes])
        x = to_model_range(arr, c.size, channels)
        lookup_id = {str(v): i for i, v in enumerate(id_classes)}
        lookup_e = {str(v): i for i, v in enumerate(e_classes)}
        y_id = torch.tensor([lookup_id[str(v)] for v in np.asarray(identities).tolist()])
        y_e = torch.tensor([lookup_e[str(v)] for v in np.asarray(expressions).tolist()])
        if c.flip:
            x, y_id, y_e = torch.cat([x, x.flip(-1)]), torch.cat([y_id, y_id]), torch.cat([y_e, y_e])
        n, b = len(x), min(c.batch, len(x))
        while self.iteration_ < c.iterations:
            t0 = time.perf_counter()
            self._train_mode(True)
            idx = torch.randint(n, (b,), generator=self.gen_)
            code = torch.randint(self.n_identities, (b,), generator=self.gen_)
            with torch.no_grad():
                mean, logvar = self.encoder_(x[idx])
                fake = self.decoder_(reparameterize(mean, logvar, self.gen_), code)
            d_loss, d_parts = self.discriminator_loss(x[idx], y_id[idx], y_e[idx], fake)
            self.opt_d_.zero_grad()
            d_loss.backward()
            self.opt_d_.step()
            self.discriminator_.requires_grad_(False)
            for _ in range(c.g_steps):
                idx = torch.randint(n, (b,), generator=self.gen_)
                code = torch.randint(self.n_identities, (b,), generator=self.gen_)
                g_loss, g_parts = self.generator_loss(x[idx], y_e[idx], code, self.gen_)
                self.opt_g_.zero_grad()
                g_loss.backward()
                self.opt_g_.step()
            self.discriminator_.requires_grad_(True)
            self.iteration_ += 1
            self.seconds_ += time.perf_counter() - t0
            row = {"iteration": self.iteration_, "d_loss": float(d_loss.detach()), "g_loss": float(g_loss.detach()),
                   **{k: float(v.detach()) for k, v in {**d_parts, **g_parts}.items()}}
            self.history_.append(row)
            if progress:
                progress(self.iteration_, c.iterations, row)
            if ckpt is not None and (self.iteration_ % c.checkpoint_every == 0 or self.iteration_ == c.iterations):
                self.save(ckpt)
        self._train_mode(False)
        return self

    def check_data(self, images: np.ndarray, identities: np.ndarray, expressions: np.ndarray,
                   source: str | Path) -> Vgan:
        """A ValueError naming ``source`` (a checkpoint) unless this model was trained on data with
        these identity and expression classes and this number of channels."""
        arr = np.asarray(images)
        channels = 3 if arr.ndim == 4 and arr.shape[-1] == 3 else 1
        classes = ([str(v) for v in sorted(set(np.asarray(identities).tolist()))],
                   [str(v) for v in sorted(set(np.asarray(expressions).tolist()))], channels)
        if (self.identities_, self.expressions_, self.channels_) != classes:
            raise ValueError(f"{source}: a checkpoint of other data (identities, expressions or channels differ); "
                             "remove it or choose another run folder")
        return self

    def _train_mode(self, on: bool) -> None:
        for m in (self.encoder_, self.decoder_, self.discriminator_):
            m.train(on)

    # ----- saving ---------------------------------------------------------------------------------
    def state(self, training: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "privemo.pprl_vgan", "config": asdict(self.config), "channels": self.channels_,
            "identities": self.identities_, "expressions": self.expressions_, "iteration": self.iteration_,
            "seconds": self.seconds_, "encoder": self.encoder_.state_dict(), "decoder": self.decoder_.state_dict(),
            "discriminator": self.discriminator_.state_dict(), "history": self.history_,
        }
        if training:
            out.update(opt_g=self.opt_g_.state_dict(), opt_d=self.opt_d_.state_dict(), gen=self.gen_.get_state())
        return out

    def save(self, path: str | Path, training: bool = True) -> None:
        _save_atomic(self.state(training), Path(path))

    def load(self, path: str | Path | IO[bytes], resume: bool = False) -> Vgan:
        """Load a model written by ``save``; with ``resume`` the saved config must equal this one
        except for ``iterations`` (a run may be continued for longer)."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable or foreign file
            raise ValueError(f"{path}: not a PPRL-VGAN model ({exc})") from exc
        if not isinstance(state, dict) or state.get("kind") != "privemo.pprl_vgan":
            raise ValueError(f"{path}: not a PPRL-VGAN model written by privemo")
        saved = VganConfig(**state["config"])
        if resume:
            mine, theirs = self.config.recipe(), saved.recipe()
            if mine != theirs:
                diff = sorted(k for k in mine if mine[k] != theirs.get(k))
                raise ValueError(f"{path}: a checkpoint of another config (differs in {', '.join(diff)}); "
                                 "remove it or choose another run folder")
        else:
            self.config = saved
        self.build(int(state["channels"]), state["identities"], state["expressions"])
        self.encoder_.load_state_dict(state["encoder"])
        self.decoder_.load_state_dict(state["decoder"])
        self.discriminator_.load_state_dict(state["discriminator"])
        self.iteration_, self.seconds_ = int(state["iteration"]), float(state.get("seconds", 0.0))
        self.history_ = list(state.get("history", []))
        if resume and "opt_g" in state:
            self.opt_g_.load_state_dict(state["opt_g"])
            self.opt_d_.load_state_dict(state["opt_d"])
            self.gen_.set_state(state["gen"])
        self._train_mode(False)
        return self

    # ----- uses -----------------------------------------------------------------------------------
    def code_index(self, identity: str | int) -> int:
        if isinstance(identity, (int, np.integer)):
            if not 0 <= int(identity) < self.n_identities:
                raise ValueError(f"identity code {identity} out of range 0..{self.n_identities - 1}")
            return int(identity)
        if str(identity) not in self.identities_:
            raise ValueError(f"unknown identity {identity!r}; the model knows {', '.join(self.identities_)}")
        return self.identities_.index(str(identity))

    def model_input(self, images: np.ndarray) -> torch.Tensor:
        """Images as this model reads them: (N, channels, size, size) in [-1, 1]."""
        return to_model_range(np.asarray(images), self.config.size, self.channels_)

    @torch.no_grad()
    def encode(self, images: np.ndarray, batch: int = 256, sample: bool = False, seed: int = 0) -> np.ndarray:
        """f(I) for each image: the mean of q(f | I), or with ``sample`` a draw from it (the randomized
        mapping of §4, seeded by ``seed``)."""
        self._train_mode(False)
        x = to_model_range(np.asarray(images), self.config.size, self.channels_)
        if not len(x):
            return np.zeros((0, self.config.latent), np.float32)
        gen = torch.Generator().manual_seed(seed)
        out = []
        for i in range(0, len(x), batch):
            mean, logvar = self.encoder_(x[i:i + batch])
            out.append(reparameterize(mean, logvar, gen) if sample else mean)
        return torch.cat(out).numpy()

    @torch.no_grad()
    def decode(self, f: np.ndarray, codes: np.ndarray, batch: int = 256) -> np.ndarray:
        self._train_mode(False)
        ft, ct = torch.as_tensor(np.asarray(f, np.float32)), torch.as_tensor(np.asarray(codes), dtype=torch.long)
        return np.concatenate([to_images(self.decoder_(ft[i:i + batch], ct[i:i + batch]))
                               for i in range(0, len(ft), batch)])

    def replace(self, images: np.ndarray, codes: np.ndarray | list[int]) -> np.ndarray:
        """Each image with its identity replaced by the identity of its code (same expression)."""
        codes = np.asarray(codes, dtype=int)
        if codes.ndim == 0:
            codes = np.full(len(images), int(codes))
        if len(codes) != len(images):
            raise ValueError(f"{len(images)} images but {len(codes)} identity codes")
        if len(codes) and (codes.min() < 0 or codes.max() >= self.n_identities):
            raise ValueError(f"identity codes must lie in 0..{self.n_identities - 1}")
        return self.decode(self.encode(images), codes)

    def replace_all(self, images: np.ndarray) -> np.ndarray:
        """(N, N_id, ...) every image under every identity code."""
        f = self.encode(images)
        k = self.n_identities
        out = self.decode(np.repeat(f, k, 0), np.tile(np.arange(k), len(f)))
        return out.reshape(len(f), k, *out.shape[1:])

    def synthesize(self, codes: np.ndarray | list[int], seed: int = 0) -> np.ndarray:
        """Faces without an input image: f ~ N(0, I) with the given identity codes (§5.5)."""
        codes = np.asarray(codes, dtype=int)
        f = np.random.default_rng(seed).standard_normal((len(codes), self.config.latent)).astype(np.float32)
        return self.decode(f, codes)

    def morph(self, first: np.ndarray, second: np.ndarray, code: int, steps: int = 8) -> np.ndarray:
        """Eq. 7: (1 - α) f(I1) + α f(I2) for ``steps`` values of α in [0, 1], decoded with ``code``."""
        f = self.encode(np.stack([first, second]))
        alpha = np.linspace(0, 1, steps, dtype=np.float32)[:, None]
        return self.decode((1 - alpha) * f[0] + alpha * f[1], np.full(steps, code))

    def complete(self, images: np.ndarray, masks: np.ndarray, codes: np.ndarray | list[int]) -> np.ndarray:
        """§5.5: the masked pixels (``masks`` True, (N, H, W)) of each image filled from its
        re-synthesis with the subject's own code; the other pixels are kept."""
        images = np.asarray(images)
        filled = self.replace(images, codes)
        if filled.shape != images.shape:  # the model's size / channels differ from the input
            filled = from_model(filled, images[0])
        m = np.asarray(masks, bool)
        if images.ndim == 4:
            m = m[..., None]
        return np.where(m, filled, images)


def from_model(out: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Model outputs resized and converted to the size and channels of the single image ``like``."""
    arr = restore_images(out, np.asarray(like).shape)
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def completion_masks(size: int) -> dict[str, np.ndarray]:
    """§5.5's two masks on an aligned ``size`` x ``size`` face, each ~7% of the image: one over the
    eyebrows, eyes and nose, one over the mouth."""
    eyes = np.zeros((size, size), bool)
    mouth = np.zeros((size, size), bool)
    s = size / 64.0
    eyes[round(22 * s):round(30 * s), round(16 * s):round(48 * s)] = True  # 8 x 32 = 6.3%
    eyes[round(30 * s):round(34 * s), round(28 * s):round(36 * s)] = True  # + the nose bridge: 7.0%
    mouth[round(43 * s):round(52 * s), round(18 * s):round(46 * s)] = True  # 9 x 28 = 6.2%
    return {"eyes_nose": eyes, "mouth": mouth}
