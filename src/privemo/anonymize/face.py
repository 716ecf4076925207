"""Face anonymizers: an image of a face in, an image of the same size, channels and dtype out.

``face_blur`` (Gaussian blur) and ``face_pixelate`` (block averaging) are the classic pre-defined
degradations (narula-2020 §2); ``face_autoencoder`` is ranade's denoising autoencoder (§4.1): faces
are corrupted by noise and by deleting pixels, and a convolutional autoencoder with a 300-d latent
(Adam 1e-3, MSE, batch 64) learns to reconstruct them; anonymizing corrupts a face the same way and
keeps the reconstruction, which holds what the faces it was trained on share (pose, expression) and
loses much of what is one person's own.

Strengths are stated for a 64-pixel face and scale with the face: ``sigma`` and ``block`` are in
pixels of a 64 x 64 crop. Every random draw comes from ``seed`` and the image's key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from privemo._schema import NonNegFloat, PosFloat, PosInt
from privemo.anonymize.base import Anonymizer
from privemo.errors import ConfigError
from privemo.media.image import conform_images, restore_images
from privemo.registry import register

Progress = Callable[[int, int], None]


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - the face extra brings it
        from privemo.errors import PrivemoError

        raise PrivemoError("face anonymizers need opencv-python-headless (pip install privemo[face])") from exc
    return cv2


def as_images(images: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    arr = np.asarray(images)
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] not in (1, 3)):
        raise ValueError(f"expected a batch of gray (N, H, W) or colour (N, H, W, 3) images, got {arr.shape}")
    return arr


@dataclass
class FaceAnonymizer(Anonymizer):
    media: ClassVar[str] = "image"

    fits_on_others: ClassVar[bool] = False  # True: fit it on other people than it anonymizes (a face pool)

    @property
    def learns(self) -> bool:
        """Whether ``fit`` learns anything (the fixed degradations keep the base class's no-op)."""
        return type(self).fit is not FaceAnonymizer.fit

    def fit(self, faces: np.ndarray | Sequence[np.ndarray], progress: Progress | None = None,
            subjects: Sequence[str] | None = None) -> FaceAnonymizer:
        """Learn from face crops (uint8, gray or colour) and, where it uses them, their subjects; a
        no-op for the fixed degradations."""
        return self

    def transform(self, image: np.ndarray, key: str = "") -> np.ndarray:
        """One face image (H, W) or (H, W, 3), any dtype; the same shape and dtype back."""
        return self.transform_batch(np.asarray(image)[None], [key])[0]

    def transform_batch(self, images: np.ndarray, keys: Sequence[str] | None = None) -> np.ndarray:
        arr = as_images(images)
        out = self._transform(arr.astype(np.float32), list(keys) if keys is not None else [""] * len(arr))
        if np.issubdtype(arr.dtype, np.integer):
            info = np.iinfo(arr.dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        return out.astype(arr.dtype, copy=False).reshape(arr.shape)

    def _transform(self, images: np.ndarray, keys: list[str]) -> np.ndarray:
        raise NotImplementedError



@register("anonymizer", "face_original")
@dataclass
class FaceOriginal(FaceAnonymizer):
    """No protection: the reference row of every face evaluation."""

    name: ClassVar[str] = "face_original"

    def _transform(self, images, keys):
        return images


@register("anonymizer", "face_blur")
@dataclass
class FaceBlur(FaceAnonymizer):
    """Gaussian blur of standard deviation ``sigma`` pixels (of a 64-pixel face)."""

    name: ClassVar[str] = "face_blur"
    sigma: Annotated[float, Field(ge=0, le=1000)] = 4.0

    def _transform(self, images, keys):
        cv2 = _cv2()
        s = self.sigma * min(images.shape[1:3]) / 64.0
        return np.stack([cv2.GaussianBlur(im, (0, 0), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT)
                         for im in images]).reshape(images.shape) if s > 0 else images


@register("anonymizer", "face_pixelate")
@dataclass
class FacePixelate(FaceAnonymizer):
    """Averages over ``block`` x ``block`` pixels (of a 64-pixel face), shown as square blocks."""

    name: ClassVar[str] = "face_pixelate"
    block: Annotated[int, Field(ge=1, le=4096)] = 8

    def _transform(self, images, keys):
        cv2 = _cv2()
        h, w = images.shape[1:3]
        b = max(1.0, self.block * min(h, w) / 64.0)
        small = (max(1, round(w / b)), max(1, round(h / b)))
        return np.stack([cv2.resize(cv2.resize(im, small, interpolation=cv2.INTER_AREA), (w, h),
                                    interpolation=cv2.INTER_NEAREST) for im in images]).reshape(images.shape)


@register("anonymizer", "face_autoencoder")
@dataclass
class FaceAutoencoder(FaceAnonymizer):
    """ranade's denoising autoencoder (latent 300, Adam 1e-3, MSE, batch 64), applied to faces at ``size``.

    Training corrupts each face with Gaussian noise (``noise`` std, in [0, 1] units) and deletes a
    ``mask`` fraction of its pixels; anonymizing applies the same corruption (``corrupt: false``
    reconstructs the clean face instead) and returns the reconstruction, resized back to the input.
    """

    name: ClassVar[str] = "face_autoencoder"
    size: Annotated[int, Field(ge=8, le=512)] = 64
    latent: Annotated[int, Field(ge=1, le=100_000)] = 300
    epochs: PosInt = 60
    batch: PosInt = 64
    lr: PosFloat = 1e-3
    noise: NonNegFloat = 0.1
    mask: Annotated[float, Field(ge=0, lt=1)] = 0.25
    corrupt: bool = True
    flip: bool = True  # train on mirrored copies too

    def fit(self, faces, progress=None, subjects=None):
        import torch

        from privemo.models.face import DenoisingAE

        arr = as_images(faces)
        self.channels_ = 3 if arr.ndim == 4 and arr.shape[-1] == 3 else 1
        x = self._to_tensor(arr.astype(np.float32))
        if self.flip:
            x = torch.cat([x, x.flip(-1)])
        torch.manual_seed(self.seed)
        self.model_ = DenoisingAE(self.channels_, self.size, self.latent)
        opt = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        gen = torch.Generator().manual_seed(self.seed)
        self.losses_: list[float] = []
        for epoch in range(self.epochs):
            self.model_.train()
            total = 0.0
            for idx in torch.randperm(len(x), generator=gen).split(self.batch):
                clean = x[idx]
                noisy = self._corrupt(clean, gen)
                loss = torch.nn.functional.mse_loss(self.model_(noisy), clean)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            self.losses_.append(total / len(x))
            if progress:
                progress(epoch + 1, self.epochs)
        self.model_.eval()
        return self

    def _corrupt(self, clean: Any, gen: Any) -> Any:
        import torch

        noisy = clean + self.noise * torch.randn(clean.shape, generator=gen)
        keep = (torch.rand(clean.shape[0], 1, *clean.shape[2:], generator=gen) >= self.mask).to(clean.dtype)
        return (noisy * keep).clamp(0, 1)

    def _to_tensor(self, images: np.ndarray) -> Any:
        """(N, H, W[, C]) float 0..255 -> (N, channels_, size, size) float tensor in [0, 1]."""
        import torch

        t = torch.from_numpy(conform_images(images, self.size, self.channels_) / 255.0)
        return t.permute(0, 3, 1, 2) if self.channels_ == 3 else t[:, None]

    def _transform(self, images, keys):
        import torch

        if not hasattr(self, "model_"):
            from privemo.errors import ConfigError

            raise ConfigError("face_autoencoder: fit it on faces before anonymizing")
        x = self._to_tensor(images)
        if self.corrupt:  # each face's corruption drawn from seed + its key, whatever the batch
            x = torch.cat([self._corrupt(x[i:i + 1], torch.Generator().manual_seed(
                int(self.rng(k, str(i) if not k else "").integers(2**62)))) for i, k in enumerate(keys)])
        with torch.no_grad():
            y = self.model_(x).numpy() * 255.0
        y = y.transpose(0, 2, 3, 1) if self.channels_ == 3 else y[:, 0]
        return restore_images(y, images.shape[1:])

    def state_dict(self) -> dict[str, Any]:
        return {"config": self.config(), "channels": self.channels_, "weights": self.model_.state_dict()}

    def load_state(self, state: dict[str, Any]) -> FaceAutoencoder:
        from privemo.models.face import DenoisingAE

        self.channels_ = int(state["channels"])
        self.model_ = DenoisingAE(self.channels_, self.size, self.latent)
        self.model_.load_state_dict(state["weights"])
        self.model_.eval()
        return self


def create_face_anonymizer(spec: dict[str, Any] | str) -> FaceAnonymizer:
    """The registered face anonymizer a spec names (``"face_blur"`` or ``{type: face_blur, sigma: 6}``),
    its parameters checked; a voice anonymizer's name is a ConfigError saying so."""
    from privemo.registry import create

    spec = {"type": spec} if isinstance(spec, str) else dict(spec)
    anonymizer = create("anonymizer", **spec)
    if not isinstance(anonymizer, FaceAnonymizer):
        raise ConfigError(f"anonymizer {spec['type']!r} is not a face anonymizer (it works on {anonymizer.media})")
    return anonymizer
