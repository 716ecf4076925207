"""The face data of an evaluation: aligned crops of a corpus's emotion-labelled images, and their
augmented copies (narula-2020 §4.1), as arrays with subject, emotion, gender and source original."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from privemo.corpora import Manifest, load
from privemo.errors import ConfigError
from privemo.features import FeatureCache, extract
from privemo.features.augment import augment_faces


@dataclass
class FaceSet:
    images: np.ndarray  # uint8 (N, S, S) gray or (N, S, S, 3) colour
    subject: np.ndarray
    emotion: np.ndarray
    gender: np.ndarray  # "m" / "f" / "?"
    source: np.ndarray  # index of the original image (its own index for an original)
    item_id: np.ndarray
    found: np.ndarray  # the face detector found the face (else a centre crop)
    group: np.ndarray | None = None  # per image, the first original of its recording group (a CK+ sequence)

    def __post_init__(self) -> None:
        if self.group is None:  # every original its own group
            self.group = np.asarray(self.source)

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index: np.ndarray) -> FaceSet:
        return FaceSet(self.images[index], self.subject[index], self.emotion[index], self.gender[index],
                       self.source[index], self.item_id[index], self.found[index], self.group[index])

    def originals_of(self, subjects: list[str]) -> FaceSet:
        """The originals of these subjects as a set of their own (sources and groups renumbered)."""
        ix = np.flatnonzero(np.isin(self.subject, subjects) & (self.source == np.arange(len(self))))
        first: dict[int, int] = {}
        group = np.array([first.setdefault(int(g), j) for j, g in enumerate(self.group[ix])])
        sub = self.take(ix)
        sub.source, sub.group = np.arange(len(ix)), group
        return sub

    @property
    def colour(self) -> bool:
        return self.images.ndim == 4


def load_faces(corpus: str, root: Path | None, options: dict, emotions: list[str] | None, size: int, color: str,
               cache: FeatureCache, detect: bool = True, progress=None, detector: str = "dlib"
               ) -> tuple[FaceSet, Manifest]:
    """Aligned ``size`` x ``size`` crops of the corpus's images with an emotion label (and, when
    ``emotions`` is given, only those emotions)."""
    manifest = load(corpus, root, **options)
    manifest = manifest.labelled("emotion").where(media="image")
    if emotions:
        manifest = manifest.subset(manifest.df["emotion"].isin(emotions).to_numpy())
    if len(manifest) == 0:
        raise ConfigError(f"corpus {corpus} at {root}: no emotion-labelled images"
                          + (f" with emotions {emotions}" if emotions else ""))
    feats = extract(manifest, {"type": "face_crop", "size": size, "color": color, "detect": detect,
                               "detector": detector}, cache,
                    skip_bad=True, progress=progress)
    ok = feats.ok()
    if not ok.all():
        bad = feats.failed[0]
        raise ConfigError(f"{len(feats.failed)} images could not be read, e.g. {bad[0]}: {bad[1]}")
    images = np.stack([np.rint(v * 255).astype(np.uint8) for v in feats.values if v is not None])
    df = manifest.df
    gender = df["gender"].astype(object).where(df["gender"].notna(), "?").astype(str).to_numpy()
    found = np.array([not n.get("fallback", False) for n in feats.notes])
    first: dict[str, int] = {}
    group = np.array([first.setdefault(str(g), i) for i, g in enumerate(df["group"].astype(str))])
    faces = FaceSet(images, df["speaker"].astype(str).to_numpy(), df["emotion"].astype(str).to_numpy(), gender,
                    np.arange(len(df)), df["item_id"].astype(str).to_numpy(), found, group)
    return faces, manifest


def augmented(faces: FaceSet, target: int, seed: int) -> FaceSet:
    """The originals plus random copies up to ``target`` images (none when target <= len)."""
    if target <= len(faces):
        return faces
    images, src = augment_faces(faces.images, target, seed)
    ids = np.array([f"{faces.item_id[s]}#{j}" if j >= len(faces) else faces.item_id[s] for j, s in enumerate(src)])
    return FaceSet(images, faces.subject[src], faces.emotion[src], faces.gender[src], faces.source[src], ids,
                   faces.found[src], faces.group[src])


def to_tensor(images: np.ndarray):  # type: ignore[no-untyped-def]
    """uint8 (N, H, W[, 3]) -> float32 torch tensor (N, C, H, W) in [0, 1]."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / 255.0)
    return t.permute(0, 3, 1, 2).contiguous() if t.ndim == 4 else t[:, None]


def encode(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    classes = sorted(set(values.tolist()))
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[v] for v in values.tolist()], dtype=int), classes
