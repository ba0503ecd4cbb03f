"""Regression losses for the energy calibration (references 003 and 004).

All take predictions and a target of shape ``(B,)`` (the response r = E_true/E_cluster), optional
per-sample weights, and return the weighted mean over entries. Likelihood losses are full negative
log-likelihoods (constants included) so their values compare across losses.

* ``mse_loss``: reference 003 (ATLAS transformer, "MSE loss").
* ``gaussian_nll``: reference 004 MDN loss log σ + ½ (y − μ)²/σ² (+ ½ ln 2π).
* ``split_gaussian_nll``: reference 004 "asymmetric MDN" (MDNA): σ₁ below μ, σ₂ above; the slide's
  "1e^{(x−μ)²/2σ}" is read as exp(−(x−μ)²/2σ²), normalised as a split normal,
  NLL = ln((σ₁ + σ₂)/2) + ½ z² + ½ ln 2π with z = (y − μ)/σ_side.
* ``truncate_n_sigma=N`` (reference 004 "truncated MDN/MDNA", P = 0 for |y − μ| ≥ Nσ): entries
  outside ±Nσ (σ of their side) are dropped from the loss (the mask carries no gradient) and
  the density is renormalised to the window, adding ln erf(N/√2). The mean runs over the kept
  weight; if nothing is kept the loss is 0 (still connected to the graph).
* ``gaussian_mixture_nll``: a K-component mixture density network, for completeness.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
REGRESSION_LOSSES = ("mse", "gaussian", "asymmetric", "truncated", "asymmetric_truncated")
N_OUTPUTS = {"mse": 1, "gaussian": 2, "asymmetric": 3, "truncated": 2, "asymmetric_truncated": 3}


def _weighted_mean(per_entry: Tensor, weights: Tensor | None, keep: Tensor | None = None) -> Tensor:
    w = (
        torch.ones_like(per_entry)
        if weights is None
        else weights.to(per_entry.dtype).reshape(per_entry.shape)
    )
    if keep is not None:
        w = w * keep.to(per_entry.dtype)
        per_entry = torch.where(keep, per_entry, torch.zeros_like(per_entry))
    total = w.sum()
    if float(total) <= 0:
        return (per_entry * 0.0).sum()
    return (per_entry * w).sum() / total


def _check(name: str, *tensors: Tensor) -> None:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise ValueError(f"{name}: inputs have shapes {sorted(shapes)}; expected equal (B,) shapes")


def mse_loss(pred: Tensor, target: Tensor, weights: Tensor | None = None) -> Tensor:
    """Weighted mean squared error."""
    _check("mse_loss", pred, target)
    return _weighted_mean((pred - target) ** 2, weights)


def split_gaussian_nll(
    mu: Tensor,
    sigma_low: Tensor,
    sigma_high: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    truncate_n_sigma: float | None = None,
) -> Tensor:
    """Asymmetric (split-normal) NLL; σ_low applies for y < μ, σ_high for y ≥ μ (see module docstring)."""
    _check("split_gaussian_nll", mu, sigma_low, sigma_high, target)
    below = target < mu
    sigma = torch.where(below, sigma_low, sigma_high)
    z = (target - mu) / sigma
    nll = torch.log(0.5 * (sigma_low + sigma_high)) + 0.5 * z**2 + HALF_LOG_2PI
    if truncate_n_sigma is None:
        return _weighted_mean(nll, weights)
    if truncate_n_sigma <= 0:
        raise ValueError(f"truncate_n_sigma={truncate_n_sigma}; expected > 0")
    keep = z.detach().abs() < truncate_n_sigma
    nll = nll + math.log(math.erf(truncate_n_sigma / math.sqrt(2.0)))
    return _weighted_mean(nll, weights, keep)


def gaussian_nll(
    mu: Tensor,
    sigma: Tensor,
    target: Tensor,
    weights: Tensor | None = None,
    truncate_n_sigma: float | None = None,
) -> Tensor:
    """Gaussian NLL log σ + ½ (y − μ)²/σ² + ½ ln 2π, optionally truncated at ±Nσ."""
    return split_gaussian_nll(mu, sigma, sigma, target, weights, truncate_n_sigma)


def gaussian_mixture_nll(
    mixture_logits: Tensor, mu: Tensor, sigma: Tensor, target: Tensor, weights: Tensor | None = None
) -> Tensor:
    """NLL of a K-component Gaussian mixture; all parameter tensors ``(B, K)``, target ``(B,)``."""
    if (
        mixture_logits.shape != mu.shape
        or mu.shape != sigma.shape
        or mu.dim() != 2
        or target.shape != mu.shape[:1]
    ):
        raise ValueError(
            f"gaussian_mixture_nll: shapes {tuple(mixture_logits.shape)}, {tuple(mu.shape)}, "
            f"{tuple(sigma.shape)}, target {tuple(target.shape)}; expected (B, K) ×3 and (B,)"
        )
    z = (target[:, None] - mu) / sigma
    log_comp = torch.log_softmax(mixture_logits, dim=1) - torch.log(sigma) - 0.5 * z**2 - HALF_LOG_2PI
    return _weighted_mean(-torch.logsumexp(log_comp, dim=1), weights)


def regression_loss(
    outputs: Tensor,
    target: Tensor,
    loss: str = "mse",
    weights: Tensor | None = None,
    n_sigma: float = 3.0,
) -> Tensor:
    """Dispatch on ``loss`` for model outputs ``(B, k)``: columns (μ[, σ | σ_low, σ_high]).

    ``k`` must be :data:`N_OUTPUTS` [loss]; σ columns must already be positive (the models apply
    a softplus). ``n_sigma`` is the truncation of the ``*truncated`` losses.
    """
    if loss not in REGRESSION_LOSSES:
        raise ValueError(f"regression loss {loss!r}; expected one of {REGRESSION_LOSSES}")
    if outputs.dim() != 2 or outputs.shape[1] != N_OUTPUTS[loss]:
        raise ValueError(f"loss {loss!r} needs outputs (B, {N_OUTPUTS[loss]}); got {tuple(outputs.shape)}")
    mu = outputs[:, 0]
    if loss == "mse":
        return mse_loss(mu, target, weights)
    trunc = n_sigma if loss.endswith("truncated") else None
    if loss in ("gaussian", "truncated"):
        return gaussian_nll(mu, outputs[:, 1], target, weights, trunc)
    return split_gaussian_nll(mu, outputs[:, 1], outputs[:, 2], target, weights, trunc)
