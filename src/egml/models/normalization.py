"""Input standardisation stored as model buffers (so checkpoints and ONNX exports carry it)."""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn


class FeatureNormalizer(nn.Module):
    """``(x − mean) / std`` over the last axis; identity until :meth:`fit` or :meth:`set` is called.

    Statistics come from the training split only (the caller's responsibility). Non-finite values
    or a zero spread are refused with a ValueError naming the feature index.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))

    def set(self, mean: ArrayLike, std: ArrayLike) -> None:
        m = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        s = torch.as_tensor(np.asarray(std, dtype=np.float32))
        if m.shape != self.mean.shape or s.shape != self.std.shape:
            raise ValueError(
                f"normalisation shapes {tuple(m.shape)}, {tuple(s.shape)}; expected {tuple(self.mean.shape)}"
            )
        bad = torch.nonzero(~torch.isfinite(m) | ~torch.isfinite(s) | (s <= 0)).flatten().tolist()
        if bad:
            raise ValueError(
                f"normalisation of features {bad} is non-finite or has zero spread; expected finite, std > 0"
            )
        self.mean.copy_(m)
        self.std.copy_(s)

    def fit(self, x: ArrayLike, weights: ArrayLike | None = None) -> None:
        """Set weighted mean and standard deviation from an ``(N, F)`` array (NaNs refused)."""
        a = np.asarray(x, dtype=np.float64)
        w = np.ones(a.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
        mean = np.average(a, axis=0, weights=w)
        std = np.sqrt(np.average((a - mean) ** 2, axis=0, weights=w))
        self.set(mean, std)

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
