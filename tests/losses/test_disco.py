"""DisCo: equals dcor's squared distance correlation, weighted form, chunking and gradients."""

import numpy as np
import pytest
import torch

from egml.losses.decorrelated_bce import disco_multi_output_loss
from egml.losses.disco import distance_correlation


def _pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = x**2 + 0.5 * rng.normal(size=n)  # dependent but linearly uncorrelated
    return x, y


def test_unweighted_equals_dcor() -> None:
    import dcor  # slow import, only here

    for seed in range(3):
        x, y = _pair(300, seed)
        ours = distance_correlation(torch.from_numpy(x), torch.from_numpy(y)).item()
        assert ours == pytest.approx(dcor.distance_correlation_sqr(x, y), rel=1e-9)
    x, _ = _pair(200)
    z = np.random.default_rng(9).normal(size=200)
    assert distance_correlation(torch.from_numpy(x), torch.from_numpy(z)).item() == pytest.approx(
        dcor.distance_correlation_sqr(x, z), rel=1e-9
    )


def test_integer_weights_equal_repeated_entries() -> None:
    x, y = _pair(120, 3)
    reps = np.random.default_rng(4).integers(1, 4, size=120)
    weighted = distance_correlation(
        torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(reps.astype(float))
    )
    repeated = distance_correlation(
        torch.from_numpy(np.repeat(x, reps)), torch.from_numpy(np.repeat(y, reps))
    )
    assert weighted.item() == pytest.approx(repeated.item(), rel=1e-9)


def test_chunked_matches_direct_including_gradient() -> None:
    x, y = _pair(257, 5)
    w = torch.from_numpy(np.random.default_rng(6).uniform(0.2, 2.0, size=257))
    grads = []
    values = []
    for chunk in (257 * 257, 257 * 10):
        xt = torch.from_numpy(x).requires_grad_(True)
        val = distance_correlation(xt, torch.from_numpy(y), w, chunk_elements=chunk)
        val.backward()
        values.append(val.item())
        grads.append(xt.grad.clone())
    assert values[0] == pytest.approx(values[1], rel=1e-12)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-9, atol=1e-12)


def test_gradient_matches_finite_difference_and_reduces_correlation() -> None:
    x, y = _pair(60, 7)
    xt = torch.from_numpy(x).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: distance_correlation(a, torch.from_numpy(y)), (xt,))
    # a few gradient steps on x must lower dCor(x, y)
    start = distance_correlation(xt, torch.from_numpy(y)).item()
    opt = torch.optim.SGD([xt], lr=1.0)
    for _ in range(20):
        opt.zero_grad()
        distance_correlation(xt, torch.from_numpy(y)).backward()
        opt.step()
    assert distance_correlation(xt, torch.from_numpy(y)).item() < 0.5 * start


def test_limits_and_bad_input() -> None:
    x = torch.linspace(0, 1, 50)
    assert distance_correlation(x, 3 * x + 1).item() == pytest.approx(1.0, rel=1e-6)
    assert distance_correlation(x, torch.ones(50)).item() == 0.0
    with pytest.raises(ValueError, match="expected"):
        distance_correlation(x, torch.ones(49))


def test_multi_output_loss_terms() -> None:
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 3, generator=gen, requires_grad=True)
    labels = (torch.rand(64, generator=gen) > 0.5).float()
    iso = torch.rand(64, generator=gen)
    off = disco_multi_output_loss(logits, labels, iso)
    on = disco_multi_output_loss(logits, labels, iso, lambda_iso=2.0, lambda_orthogonal=1.0)
    assert off["disco_iso"].item() == 0.0
    assert on["loss"].item() == pytest.approx(
        (on["bce"] + 2.0 * on["disco_iso"] + on["disco_orth"]).item(), rel=1e-6
    )
    bkg = labels == 0
    expected = distance_correlation(torch.sigmoid(logits[bkg, 1]), iso[bkg])
    assert on["disco_iso"].item() == pytest.approx(expected.item(), rel=1e-6)
    on["loss"].backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()
