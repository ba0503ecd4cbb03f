"""Distance-correlation (DisCo) decorrelation of Kasieczka & Shih, arXiv:2001.05310.

``distance_correlation(x, y, weights)`` is the weighted squared distance correlation dCor²(x, y)
of the DisCo paper (its ``power=1`` penalty): the double-centred V-statistic with the event
weights normalised to unit mean. Unweighted it equals ``dcor.distance_correlation_sqr``.

Memory. The textbook form builds three n×n matrices. Here the double centring is expanded,

    dCov²(x, y) = Σ_ij p_i p_j a_ij b_ij − 2 Σ_i p_i a_i b_i + a·b,
    a_ij = |x_i − x_j|,  a_i = Σ_j p_j a_ij,  a = Σ_i p_i a_i,  p = w / Σw,

so every quantity is a sum over rows. Rows are processed in chunks of at most ``chunk_elements``
matrix entries, each chunk under activation checkpointing, so forward *and* backward memory is
O(chunk_elements + n) instead of O(n²); compute stays O(n²). Sums run in float64 because the
three terms cancel when the correlation is small.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

DEFAULT_CHUNK_ELEMENTS = 1 << 20  # 1M float64 entries = 8 MB per pairwise matrix of a chunk


def _as_column(name: str, v: Tensor) -> Tensor:
    if v.dim() == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.dim() != 1:
        raise ValueError(f"distance_correlation: {name} has shape {tuple(v.shape)}, expected (n,) or (n, 1)")
    return v


def _chunk_row_means(xc: Tensor, yc: Tensor, x: Tensor, y: Tensor, p: Tensor) -> tuple[Tensor, Tensor]:
    a = (xc[:, None] - x[None, :]).abs()
    b = (yc[:, None] - y[None, :]).abs()
    return a @ p, b @ p


def _chunk_sums(
    xc: Tensor, yc: Tensor, pc: Tensor, x: Tensor, y: Tensor, p: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Σ_i∈chunk Σ_j p_i p_j (a_ij b_ij, a_ij², b_ij²)."""
    a = (xc[:, None] - x[None, :]).abs()
    b = (yc[:, None] - y[None, :]).abs()
    return pc @ ((a * b) @ p), pc @ ((a * a) @ p), pc @ ((b * b) @ p)


def distance_correlation(
    x: Tensor,
    y: Tensor,
    weights: Tensor | None = None,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Tensor:
    """Weighted squared distance correlation dCor²(x, y) ∈ [0, 1], differentiable in x and y.

    Args:
        x, y: shape ``(n,)`` or ``(n, 1)``, e.g. a classifier output (sigmoid) and ptcone40.
        weights: optional non-negative per-entry weights ``(n,)``; normalised internally.
        chunk_elements: bound on the entries of each pairwise-distance chunk (memory knob).

    Returns a 0-dim tensor in the dtype of ``x``. A constant x or y gives 0 (not NaN).
    """
    x = _as_column("x", x)
    y = _as_column("y", y)
    n = x.shape[0]
    if y.shape[0] != n or n < 2:
        raise ValueError(
            f"distance_correlation: x has {n} entries, y has {y.shape[0]}; expected equal and >= 2"
        )
    out_dtype = x.dtype if x.is_floating_point() else torch.float32
    xd, yd = x.to(torch.float64), y.to(torch.float64)
    if weights is None:
        p = torch.full((n,), 1.0 / n, dtype=torch.float64, device=x.device)
    else:
        w = _as_column("weights", weights).to(torch.float64)
        if w.shape[0] != n or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("distance_correlation: weights must be (n,), non-negative, with a positive sum")
        p = w / w.sum()
    rows = max(1, min(n, chunk_elements // n))
    use_ckpt = rows < n and (xd.requires_grad or yd.requires_grad)

    def run(fn, *args):
        return checkpoint(fn, *args, use_reentrant=False) if use_ckpt else fn(*args)

    a_parts, b_parts = [], []
    for s in range(0, n, rows):
        ai, bi = run(_chunk_row_means, xd[s : s + rows], yd[s : s + rows], xd, yd, p)
        a_parts.append(ai)
        b_parts.append(bi)
    a_row, b_row = torch.cat(a_parts), torch.cat(b_parts)
    a_all, b_all = p @ a_row, p @ b_row
    s_ab = s_aa = s_bb = xd.new_zeros(())
    for s in range(0, n, rows):
        ab, aa, bb = run(_chunk_sums, xd[s : s + rows], yd[s : s + rows], p[s : s + rows], xd, yd, p)
        s_ab, s_aa, s_bb = s_ab + ab, s_aa + aa, s_bb + bb
    dcov_xy = s_ab - 2.0 * (p @ (a_row * b_row)) + a_all * b_all
    dcov_xx = s_aa - 2.0 * (p @ (a_row * a_row)) + a_all * a_all
    dcov_yy = s_bb - 2.0 * (p @ (b_row * b_row)) + b_all * b_all
    denom = torch.sqrt(torch.clamp(dcov_xx * dcov_yy, min=0.0))
    tiny = torch.finfo(torch.float64).tiny
    dcor2 = torch.where(denom > tiny, torch.clamp(dcov_xy, min=0.0) / denom.clamp(min=tiny), denom * 0.0)
    return dcor2.to(out_dtype)
