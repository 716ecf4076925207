"""``face_vgan``: identity replacement by a trained PPRL-VGAN (chen-2018): each face is encoded to
f(I) and decoded with another identity code, so the output keeps the expression and shows one of the
identities the model was trained on. Train a model with ``privemo vgan train CONFIG`` and pass its
``model.pt`` as ``model``.

``identity``: ``random`` (a code drawn per image from ``seed`` and the image's key: the same key, for
example a video clip's, always gets the same identity), a code index, or an identity name the model
knows. Outputs are resized back to the input's size and channels. The anonymizer does not know who
is in the image, so a face of one of the model's own training identities may draw its own code under
``random``; faces of anyone else always come out as one of the training identities.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from privemo.anonymize.face import FaceAnonymizer
from privemo.errors import ConfigError
from privemo.registry import register


@register("anonymizer", "face_vgan")
@dataclass
class FaceVgan(FaceAnonymizer):
    name: ClassVar[str] = "face_vgan"
    model: str = ""
    identity: str | int = "random"

    @classmethod
    def contract_params(cls, workdir: Path) -> dict[str, Any]:
        """For the contract suite: a tiny model (2 iterations on drawn faces of 3 people) to load."""
        from privemo.corpora._synth_face import draw, random_face
        from privemo.corpora.synthetic import EMOTIONS
        from privemo.learners.vgan import Vgan, VganConfig

        rng = np.random.default_rng(0)
        people = [random_face(rng, g) for g in "mfm"]
        images = np.stack([draw(f, e, rng, 32) for f in people for e in EMOTIONS[:3]])
        ids = np.repeat(["p0", "p1", "p2"], 3)
        emos = np.tile(list(EMOTIONS[:3]), 3)
        path = Path(workdir) / "contract_vgan.pt"
        Vgan(VganConfig(size=32, batch=8, iterations=2, seed=0)).fit(images, ids, emos).save(path, training=False)
        return {"model": str(path)}

    def fit(self, faces, progress=None, subjects=None):
        self._load()
        return self

    def _load(self) -> Any:
        if not hasattr(self, "vgan_"):
            if not self.model:
                raise ConfigError("face_vgan needs a trained model: run `privemo vgan train CONFIG`, then pass "
                                  "its model.pt (-p model=runs/NAME/model.pt or --model)")
            from privemo.learners.vgan import Vgan

            try:
                self.vgan_ = Vgan().load(self.model)
            except (ValueError, FileNotFoundError, OSError) as exc:
                raise ConfigError(str(exc) if str(self.model) in str(exc) else f"{self.model}: {exc}") from exc
            if self.identity != "random":
                try:
                    name = str(self.identity)  # a name the model knows first, else a code index
                    self.code_ = self.vgan_.code_index(name if name in self.vgan_.identities_ or not name.isdigit()
                                                       else int(name))
                except ValueError as exc:
                    raise ConfigError(f"face_vgan: {exc}") from exc
        return self.vgan_

    def codes(self, keys: list[str]) -> np.ndarray:
        vgan = self._load()
        if self.identity != "random":
            return np.full(len(keys), self.code_)
        return np.array([int(self.rng(k).integers(vgan.n_identities)) for k in keys], dtype=int)

    def _transform(self, images, keys):
        from privemo.learners.vgan import from_model

        vgan = self._load()
        arr = np.clip(np.rint(images), 0, 255).astype(np.uint8)
        out = vgan.replace(arr, self.codes(keys))
        return from_model(out, arr[0]).astype(np.float32) if len(arr) else images
