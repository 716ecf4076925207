"""Least-squares concept erasure (LEACE, Belrose et al. 2023), our own closed form.

Given representations X (N, D) and a concept Z (integer classes, -1 = unknown), the eraser is the
affine map ``r(x) = x - W⁺ P W (x - μ)`` with ``W = Σ^(-1/2)`` (whitening by the covariance of X),
``P`` the orthogonal projection onto the column space of ``W Σ_xz`` (the whitened cross-covariance
with the one-hot concept) and ``μ`` the mean. After it the cross-covariance between r(X) and Z is
zero on the data it was fitted on, so no linear classifier of the concept (least squares, logistic
regression, a linear SVM) beats a constant predictor there; among all such maps it moves X the
least (in the Mahalanobis sense). It is linear: what a non-linear attacker can still read is left
to the adversaries (:mod:`privemo.learners.standard`).
"""

from __future__ import annotations

import numpy as np
import torch

from privemo.errors import ConfigError


class LeaceEraser:
    """``fit(X, z)`` or ``fit(X, {"gender": z1, "speaker": z2})`` (several concepts erased at once:
    their one-hot codes are stacked), then ``transform(X)``; ``as_torch()`` gives the same affine map
    as (A, b) tensors with ``r(x) = x @ A + b`` for use inside a network."""

    def __init__(self, tol: float = 1e-6) -> None:
        self.tol = tol

    def fit(self, X: np.ndarray, z: np.ndarray | dict[str, np.ndarray]) -> LeaceEraser:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 2:
            raise ConfigError(f"erasure: needs a (N, D) representation with N >= 2, got shape {X.shape}")
        concepts = z if isinstance(z, dict) else {"concept": z}
        codes = []
        for name, labels in concepts.items():
            labels = np.asarray(labels)
            if len(labels) != len(X):
                raise ConfigError(f"erasure: {name} has {len(labels)} labels for {len(X)} items")
            known = labels >= 0
            classes = np.unique(labels[known])
            onehot = np.zeros((len(X), len(classes)))
            for j, c in enumerate(classes):
                onehot[labels == c, j] = 1.0
            # unknown items carry the class frequencies: they add nothing to the cross-covariance
            if (~known).any() and known.any():
                onehot[~known] = onehot[known].mean(0)
            codes.append(onehot)
        Z = np.hstack(codes) if codes else np.zeros((len(X), 0))
        mu = X.mean(0)
        Xc = X - mu
        n = len(X)
        sigma = Xc.T @ Xc / n
        sigma_xz = Xc.T @ (Z - Z.mean(0)) / n
        vals, vecs = np.linalg.eigh(sigma)
        keep = vals > self.tol * max(float(vals.max()), 1e-30)
        inv_sqrt = np.where(keep, 1.0 / np.sqrt(np.where(keep, vals, 1.0)), 0.0)
        sqrt = np.where(keep, np.sqrt(np.clip(vals, 0.0, None)), 0.0)
        W = (vecs * inv_sqrt) @ vecs.T
        W_pinv = (vecs * sqrt) @ vecs.T
        u, s, _ = np.linalg.svd(W @ sigma_xz, full_matrices=False)
        rank = int((s > self.tol * max(float(s.max()) if len(s) else 0.0, 1e-30)).sum())
        u = u[:, :rank]
        P = u @ u.T
        M = W_pinv @ P @ W  # r(x) = x - M (x - mu)
        self.mean_ = mu
        self.proj_ = M
        self.rank_ = rank
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        out = X - (X.astype(np.float64) - self.mean_) @ self.proj_.T
        return out.astype(X.dtype if np.issubdtype(X.dtype, np.floating) else np.float32)

    def as_torch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A, b) with ``r(x) = x @ A + b`` (float32)."""
        d = self.proj_.shape[0]
        A = np.eye(d) - self.proj_.T
        b = self.mean_ @ self.proj_.T
        return torch.tensor(A, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)
