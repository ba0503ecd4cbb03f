"""Residual median-response correction of the energy calibration (issue 7).

After training, the network's median response E_pred/E_true is measured on the *validation*
split (never on test) in bins of the reconstructed (E_pred, |η|), and each prediction is divided
by the median of its bin, as the ATLAS calibration does with its residual in-situ-like step.
Bins are in reconstructed quantities only, so the correction can be applied to any candidate.
Bins with fewer than ``min_entries`` validation entries are left uncorrected (factor 1).
The table lives in buffers, so it travels with the module's state.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import Tensor, nn

DEFAULT_E_EDGES = (0.0, 15.0, 30.0, 60.0, 120.0, 250.0, 500.0, 1000.0, 1.0e4)  # GeV, E_pred
DEFAULT_ABS_ETA_EDGES = (0.0, 0.8, 1.37, 1.52, 1.8, 2.47)


class MedianCorrection(nn.Module):
    """Per-bin median response of (E_pred, |η|), fitted with :meth:`fit`, applied by ``forward``."""

    def __init__(
        self,
        enabled: bool = False,
        e_edges: Sequence[float] = DEFAULT_E_EDGES,
        abs_eta_edges: Sequence[float] = DEFAULT_ABS_ETA_EDGES,
        min_entries: int = 100,
    ) -> None:
        super().__init__()
        for key, edges in (("e_edges", e_edges), ("abs_eta_edges", abs_eta_edges)):
            e = list(map(float, edges))
            if len(e) < 2 or any(b <= a for a, b in pairwise(e)):
                raise ValueError(
                    f"config key 'task.module.median_correction.{key}' is {e}; "
                    "expected at least 2 increasing edges"
                )
        if min_entries < 1:
            raise ValueError(
                f"config key 'task.module.median_correction.min_entries' is {min_entries}; expected >= 1"
            )
        self.enabled, self.min_entries = bool(enabled), int(min_entries)
        self.register_buffer("e_edges", torch.tensor(list(e_edges), dtype=torch.float64))
        self.register_buffer("eta_edges", torch.tensor(list(abs_eta_edges), dtype=torch.float64))
        self.register_buffer("table", torch.ones(len(e_edges) - 1, len(abs_eta_edges) - 1))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def _bin(self, e_pred: Tensor, eta: Tensor) -> Tensor:
        """Flat bin index; values outside the edges go to the first/last bin. Comparisons and a
        sum rather than ``bucketize``, so the lookup exports to ONNX."""
        n_eta = self.table.shape[1]
        ie = (e_pred.float()[:, None] >= self.e_edges[1:-1].float()).sum(dim=1)
        ieta = (eta.float().abs()[:, None] >= self.eta_edges[1:-1].float()).sum(dim=1)
        return ie * n_eta + ieta

    def fit(self, e_pred: Tensor, e_true: Tensor, eta: Tensor) -> None:
        """Median of E_pred/E_true per bin (validation split only); 1 where too few entries."""
        idx = self._bin(e_pred, eta)
        ratio = (e_pred.double() / e_true.double()).float()
        n_bins = self.table.numel()
        order = torch.argsort(idx * 4.0 + ratio.clamp(0, 3).double() / 3.0 * 0.999)  # by bin, then ratio
        counts = torch.bincount(idx, minlength=n_bins)
        start = torch.cumsum(counts, 0) - counts
        mid = (start + (counts - 1).clamp(min=0) // 2).clamp(max=max(len(ratio) - 1, 0))
        sorted_ratio = ratio[order]
        med = sorted_ratio[mid] if len(ratio) else torch.ones(n_bins)
        ok = (counts >= self.min_entries) & torch.isfinite(med) & (med > 0)
        self.table.copy_(torch.where(ok, med, torch.ones_like(med)).view_as(self.table))
        self.fitted.fill_(True)

    def forward(self, e_pred: Tensor, eta: Tensor) -> Tensor:
        """The factor each prediction is divided by."""
        return self.table.flatten()[self._bin(e_pred, eta)].to(e_pred.dtype)
