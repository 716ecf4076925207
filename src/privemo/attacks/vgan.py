"""chen-2018 §5.3-5.4: who attacks a PPRL-VGAN, with what, trained on what.

* ``unconstrained``: identifier and expression classifier (the discriminator's structure, one head)
  trained on ORIGINAL training images, tested on original test images (the privacy-unconstrained
  row), and the same two classifiers tested on the synthesised versions of every test image under
  EVERY identity code (scenario I: the attacker does not know the protection).
* ``scenario_II``: both classifiers trained on synthesised training images (``scenario2_codes`` codes
  per image, all by default) with the true labels, tested on the synthesised test images under every
  code (the attacker can run the protection on its own labelled images).
* ``scenario_III``: the attacker obtains f(I): SVM, 1-D CNN and MLP (3 x 256) trained on f(I) of the
  training images, tested on f(I) of the test images; the worst case is the best identifier. Two
  representations: ``sampled`` (a draw of the randomized encoder q(f | I), what the model releases;
  the authors' code attacked these) and ``mean`` (the mean of q(f | I): an attacker who runs the
  encoder network itself and drops its noise).
* ``pretrained``: dlib's ResNet descriptor (never trained on the corpus), gallery = the original
  training images, probes = the original test images (reference) and their synthesised versions
  (under every identity code, or ``pretrained_codes`` codes drawn per image).
* ``replacement``: how often the model's own D2 and the scenario-I identifier name the TARGET
  identity of a replaced face (identity replacement works when far above chance).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from privemo.evaluators.cnn import TrainConfig, fit_classifier, predict
from privemo.metrics import uar
from privemo.models.vgan import LatentCNN, LatentMLP, VganClassifier


def dlib_available() -> bool:
    from importlib.util import find_spec

    return find_spec("dlib") is not None and find_spec("face_recognition_models") is not None


def _score(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {"acc": float(np.mean(y == pred)), "uar": float(uar(y, pred))}


class Judge:
    def __init__(self, model: Any, data: Any, cfg: Any, seed: int,
                 log: Callable[[str], None], progress: Callable[[str, int, int], None]) -> None:
        self.model, self.d, self.cfg, self.seed, self.log, self.progress = model, data, cfg, seed, log, progress
        self.y_id_train, self.y_e_train = data.labels(data.train)
        self.y_id_test, self.y_e_test = data.labels(data.test)
        self.k = model.n_identities
        self._synth_test: np.ndarray | None = None
        self._originals: tuple[torch.nn.Module, torch.nn.Module] | None = None

    # ----- helpers --------------------------------------------------------------------------------
    def x(self, images: np.ndarray) -> torch.Tensor:
        return self.model.model_input(images)

    def synth_test(self) -> np.ndarray:
        """(N_test * N_id, ...) every test image under every identity code (code fastest)."""
        if self._synth_test is None:
            out = self.model.replace_all(self.d.test.images)
            self._synth_test = out.reshape(-1, *out.shape[2:])
        return self._synth_test

    def _train(self, x: torch.Tensor, y: np.ndarray, n_out: int, epochs: int, salt: int) -> torch.nn.Module:
        torch.manual_seed(self.seed + salt)
        net = VganClassifier(n_out, self.model.channels_, self.model.config.size)
        fit_classifier(net, x, y, TrainConfig(epochs=epochs, lr=self.cfg.lr, batch=self.cfg.batch, seed=self.seed + salt))
        return net

    def originals(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        if self._originals is None:
            x = self.x(self.d.train.images)
            self.log("training the identifier and expression classifier on original images")
            self._originals = (self._train(x, self.y_id_train, self.k, self.cfg.epochs, 1),
                               self._train(x, self.y_e_train, len(self.d.expressions), self.cfg.epochs, 2))
        return self._originals

    def _base(self) -> dict[str, Any]:
        return {"id_chance": 1.0 / self.k, "expression_chance": 1.0 / len(self.d.expressions),
                "n_train": len(self.d.train), "n_test": len(self.d.test)}

    # ----- the units ------------------------------------------------------------------------------
    def unconstrained(self) -> list[dict[str, Any]]:
        ident, expr = self.originals()
        xt = self.x(self.d.test.images)
        rows = [{"scenario": "unconstrained", "attacker": "cnn", **self._base(),
                 "identification": _score(self.y_id_test, predict(ident, xt)),
                 "expression": _score(self.y_e_test, predict(expr, xt))}]
        xs = self.x(self.synth_test())
        rows.append({"scenario": "I", "attacker": "cnn", **self._base(), "n_test": len(xs),
                     "identification": _score(np.repeat(self.y_id_test, self.k), predict(ident, xs)),
                     "expression": _score(np.repeat(self.y_e_test, self.k), predict(expr, xs))})
        return rows

    def scenario_II(self) -> list[dict[str, Any]]:
        n = len(self.d.train)
        per = self.k if self.cfg.scenario2_codes <= 0 else min(self.cfg.scenario2_codes, self.k)
        rng = np.random.default_rng(self.seed + 11)
        codes = np.concatenate([rng.permutation(self.k)[:per] for _ in range(n)])
        src = np.repeat(np.arange(n), per)
        synth = self.model.decode(self.model.encode(self.d.train.images)[src], codes)  # each face encoded once
        x = self.x(synth)
        epochs = max(2, round(self.cfg.epochs / per * 3)) if per > 1 else self.cfg.epochs
        self.log(f"scenario II: classifiers on {len(x)} synthesised training images, {epochs} epochs")
        ident = self._train(x, self.y_id_train[src], self.k, epochs, 3)
        expr = self._train(x, self.y_e_train[src], len(self.d.expressions), epochs, 4)
        xs = self.x(self.synth_test())
        return [{"scenario": "II", "attacker": "cnn", **self._base(), "n_train": len(x), "n_test": len(xs),
                 "identification": _score(np.repeat(self.y_id_test, self.k), predict(ident, xs)),
                 "expression": _score(np.repeat(self.y_e_test, self.k), predict(expr, xs))}]

    def scenario_III(self) -> list[dict[str, Any]]:
        rows = []
        for rep in ("sampled", "mean"):
            sample = rep == "sampled"
            f_train = self.model.encode(self.d.train.images, sample=sample, seed=self.seed + 21)
            f_test = self.model.encode(self.d.test.images, sample=sample, seed=self.seed + 22)
            for kind in self.cfg.latent:
                row: dict[str, Any] = {"scenario": "III", "attacker": kind, "representation": rep, **self._base()}
                for task, y_tr, y_te, n_out in (("identification", self.y_id_train, self.y_id_test, self.k),
                                                ("expression", self.y_e_train, self.y_e_test, len(self.d.expressions))):
                    pred = self._latent(kind, f_train, y_tr, f_test, n_out)
                    row[task] = _score(y_te, pred)
                rows.append(row)
        return rows

    def _latent(self, kind: str, f_train: np.ndarray, y: np.ndarray, f_test: np.ndarray, n_out: int) -> np.ndarray:
        if kind == "svm":
            from sklearn.pipeline import make_pipeline
            from sklearn.preprocessing import StandardScaler
            from sklearn.svm import SVC

            return make_pipeline(StandardScaler(), SVC(C=10.0)).fit(f_train, y).predict(f_test)
        torch.manual_seed(self.seed + 5)
        latent = f_train.shape[1]
        net: torch.nn.Module = LatentMLP(latent, n_out) if kind == "mlp" else LatentCNN(latent, n_out)
        mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
        xt = torch.from_numpy(((f_train - mu) / sd).astype(np.float32))
        fit_classifier(net, xt, y, TrainConfig(epochs=max(30, self.cfg.epochs * 3), lr=self.cfg.lr, batch=self.cfg.batch,
                                               seed=self.seed + 5))
        return predict(net, torch.from_numpy(((f_test - mu) / sd).astype(np.float32)))

    def pretrained(self) -> list[dict[str, Any]]:
        from privemo.attacks.face import identify_pretrained
        from privemo.features.face import face_descriptors

        gallery = face_descriptors(self.d.train.images)
        g_ids = np.asarray(self.d.train.subject)
        t_ids = np.asarray(self.d.test.subject)
        ref = identify_pretrained(gallery, g_ids, face_descriptors(self.d.test.images), t_ids)
        rows = self.pretrained_rows()
        synth = identify_pretrained(gallery, g_ids, face_descriptors(self.synth_test()[rows]), t_ids[rows // self.k])
        return [{"scenario": "unconstrained", "attacker": "dlib", **self._base(),
                 "identification": {"acc": ref["acc"], "uar": ref["uar"], "eer": ref["eer"]}},
                {"scenario": "I", "attacker": "dlib", **self._base(), "n_test": len(rows),
                 "codes_per_image": len(rows) // max(len(t_ids), 1),
                 "identification": {"acc": synth["acc"], "uar": synth["uar"], "eer": synth["eer"]}}]

    def pretrained_rows(self) -> np.ndarray:
        """The rows of :meth:`synth_test` dlib describes: every one, or ``pretrained_codes`` identity
        codes drawn per test image (without repeats, seeded)."""
        n, per = len(self.d.test), self.cfg.pretrained_codes
        if per <= 0 or per >= self.k:
            return np.arange(n * self.k)
        rng = np.random.default_rng(self.seed + 13)
        return np.concatenate([i * self.k + np.sort(rng.permutation(self.k)[:per]) for i in range(n)])

    def replacement(self) -> list[dict[str, Any]]:
        codes = np.tile(np.arange(self.k), len(self.d.test))
        xs = self.x(self.synth_test())
        with torch.no_grad():
            self.model.discriminator_.eval()
            d2 = torch.cat([self.model.discriminator_(xs[i:i + 256])[1].argmax(1) for i in range(0, len(xs), 256)]).numpy()
        ident, _ = self.originals()
        return [{"scenario": "replacement", "attacker": name, **self._base(), "n_test": len(codes),
                 "target_identity": _score(codes, pred)}
                for name, pred in (("D2", d2), ("cnn", predict(ident, xs)))]
