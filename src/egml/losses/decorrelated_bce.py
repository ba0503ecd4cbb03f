"""Multi-output photon-ID loss with DisCo terms (reference 000, back-up "Approach #2").

    L = Σ_i BCE(out_i, y) + λ1 · DisCo(out_1, ptcone40) + λ2 · DisCo(out_2, out_1)

with out_i the sigmoid of the logits of :class:`egml.models.photon_cnn.PhotonCNN` (``heads="disco"``,
columns ``combined, iso_decorrelated, orthogonal``; indices 0-based). DisCo acts on the sigmoid
outputs as in Kasieczka & Shih. By default it is evaluated on background (label 0) only, so that
the decorrelation does not fight the isolation of genuine prompt photons; ``background_only=False``
uses every entry. λ = 0 switches a term off (and skips its O(n²) cost).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from egml.losses.disco import distance_correlation


def weighted_bce_with_logits(logits: Tensor, labels: Tensor, weights: Tensor | None = None) -> Tensor:
    """Per-sample-weighted binary cross-entropy on logits, normalised by the sum of weights."""
    per_entry = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
    if weights is None:
        return per_entry.mean()
    w = weights.to(logits.dtype)
    return (per_entry * w).sum() / w.sum().clamp(min=torch.finfo(logits.dtype).tiny)


def disco_multi_output_loss(
    logits: Tensor,
    labels: Tensor,
    ptcone40: Tensor,
    weights: Tensor | None = None,
    lambda_iso: float = 0.0,
    lambda_orthogonal: float = 0.0,
    background_only: bool = True,
) -> dict[str, Tensor]:
    """Total loss and its parts for ``(B, 3)`` logits; returns ``{"loss", "bce", "disco_iso", "disco_orth"}``."""
    if logits.dim() != 2 or logits.shape[1] != 3:
        raise ValueError(f"disco_multi_output_loss: logits shape {tuple(logits.shape)}, expected (B, 3)")
    bce = sum(weighted_bce_with_logits(logits[:, i], labels, weights) for i in range(3))
    scores = torch.sigmoid(logits)
    select = labels == 0 if background_only else torch.ones_like(labels, dtype=torch.bool)
    w_sel = None if weights is None else weights[select]
    zero = logits.new_zeros(())
    enough = int(select.sum()) >= 2
    disco_iso = (
        distance_correlation(scores[select, 1], ptcone40[select].to(logits.dtype), w_sel)
        if lambda_iso > 0 and enough
        else zero
    )
    disco_orth = (
        distance_correlation(scores[select, 2], scores[select, 1], w_sel)
        if lambda_orthogonal > 0 and enough
        else zero
    )
    loss = bce + lambda_iso * disco_iso + lambda_orthogonal * disco_orth
    return {"loss": loss, "bce": bce, "disco_iso": disco_iso, "disco_orth": disco_orth}
