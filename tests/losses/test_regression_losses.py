"""Regression losses: closed forms, gradients, and maximum-likelihood fits on toys."""

import math

import pytest
import torch

from egml.losses.regression import (
    gaussian_mixture_nll,
    gaussian_nll,
    mse_loss,
    regression_loss,
    split_gaussian_nll,
)


def _fit(loss_fn, data: torch.Tensor, n_params: int, steps: int = 60) -> torch.Tensor:
    """Fit global (μ, log σ…) to data by L-BFGS, starting at μ = median, σ = 1; returns (μ, σ…)."""
    params = torch.zeros(n_params, dtype=torch.float64)
    params[0] = data.median()
    params.requires_grad_(True)
    opt = torch.optim.LBFGS([params], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")
    ones = torch.ones_like(data)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(params[0] * ones, *[torch.exp(p) * ones for p in params[1:]], data)
        loss.backward()
        return loss

    opt.step(closure)
    return torch.cat([params[:1], torch.exp(params[1:])]).detach()


def test_closed_forms() -> None:
    y = torch.tensor([1.0, 2.0])
    mu = torch.tensor([0.5, 2.5])
    assert mse_loss(mu, y).item() == pytest.approx(0.25)
    assert mse_loss(mu, y, torch.tensor([3.0, 1.0])).item() == pytest.approx(0.25)
    s = torch.tensor([2.0, 2.0])
    assert gaussian_nll(mu, s, y).item() == pytest.approx(
        math.log(2) + 0.5 * 0.0625 + 0.5 * math.log(2 * math.pi)
    )
    # split normal: entry 0 is above μ (uses σ_high = 4), entry 1 below (σ_low = 1)
    lo, hi = torch.tensor([1.0, 1.0]), torch.tensor([4.0, 4.0])
    expected = math.log(2.5) + 0.5 * (0.5 * (0.5 / 4) ** 2 + 0.5 * 0.5**2) + 0.5 * math.log(2 * math.pi)
    assert split_gaussian_nll(mu, lo, hi, y).item() == pytest.approx(expected)


def test_gradients_gradcheck() -> None:
    gen = torch.Generator().manual_seed(0)
    y = torch.randn(8, dtype=torch.float64, generator=gen)
    mu = torch.randn(8, dtype=torch.float64, generator=gen, requires_grad=True)
    s1 = (torch.rand(8, dtype=torch.float64, generator=gen) + 0.5).requires_grad_(True)
    s2 = (torch.rand(8, dtype=torch.float64, generator=gen) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda m, a, b: split_gaussian_nll(m, a, b, y, truncate_n_sigma=1.5), (mu, s1, s2)
    )
    assert torch.autograd.gradcheck(lambda m, a: gaussian_nll(m, a, y), (mu, s1))
    logits = torch.randn(8, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    mus = torch.randn(8, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    sig = (torch.rand(8, 3, dtype=torch.float64, generator=gen) + 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b, c: gaussian_mixture_nll(a, b, c, y), (logits, mus, sig))


def test_gaussian_fit_recovers_mean_and_width() -> None:
    gen = torch.Generator().manual_seed(1)
    data = 1.0 + 0.3 * torch.randn(4000, dtype=torch.float64, generator=gen)
    mu, sigma = _fit(gaussian_nll, data, 2)
    assert mu.item() == pytest.approx(data.mean().item(), abs=0.01)
    assert sigma.item() == pytest.approx(data.std().item(), rel=0.03)


def test_asymmetric_fit_recovers_both_widths() -> None:
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(6000, dtype=torch.float64, generator=gen)
    side = torch.rand(6000, dtype=torch.float64, generator=gen) < 1 / 3  # P(below) = σ1/(σ1+σ2)
    data = torch.where(side, -z.abs() * 0.5, z.abs() * 1.0)
    mu, s_lo, s_hi = _fit(split_gaussian_nll, data, 3)
    assert mu.item() == pytest.approx(0.0, abs=0.05)
    assert s_lo.item() == pytest.approx(0.5, rel=0.1)
    assert s_hi.item() == pytest.approx(1.0, rel=0.1)


def test_truncation_ignores_outliers() -> None:
    gen = torch.Generator().manual_seed(3)
    core = 0.1 * torch.randn(4500, dtype=torch.float64, generator=gen)
    tails = 5.0 * (torch.rand(500, dtype=torch.float64, generator=gen) - 0.5) * 2
    data = torch.cat([core, tails])
    _, plain_sigma = _fit(gaussian_nll, data, 2)
    _, trunc_sigma = _fit(lambda m, s, y: gaussian_nll(m, s, y, truncate_n_sigma=3.0), data, 2)
    assert plain_sigma.item() > 0.5  # dragged by the tails
    assert trunc_sigma.item() == pytest.approx(0.1, rel=0.15)


def test_dispatch_and_bad_shapes() -> None:
    out = torch.tensor([[1.0, 0.5, 0.7], [0.9, 0.2, 0.4]])
    y = torch.tensor([1.1, 0.8])
    assert regression_loss(out, y, "asymmetric").item() == pytest.approx(
        split_gaussian_nll(out[:, 0], out[:, 1], out[:, 2], y).item()
    )
    assert regression_loss(out[:, :1], y, "mse").item() == pytest.approx(mse_loss(out[:, 0], y).item())
    with pytest.raises(ValueError, match="needs outputs"):
        regression_loss(out, y, "gaussian")
    with pytest.raises(ValueError, match="expected one of"):
        regression_loss(out, y, "huber")
    # everything outside the window: zero loss, still differentiable
    mu = torch.zeros(2, requires_grad=True)
    gaussian_nll(mu, torch.ones(2) * 0.01, torch.ones(2), truncate_n_sigma=1.0).backward()
    assert mu.grad is not None
