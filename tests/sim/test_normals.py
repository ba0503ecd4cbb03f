"""normals.torch_randn reproduces torch.randn (CPU generator, float32) bit for bit."""

import numpy as np
import pytest
import torch

from egml.sim.normals import torch_randn


@pytest.mark.parametrize("n", [16, 17, 100, 624, 625, 4096 * 7 * 2 + 5])
def test_torch_randn_bits(n: int) -> None:
    if torch.backends.cpu.get_cpu_capability() != "AVX2":
        pytest.skip("torch_randn reproduces torch's AVX2 Box-Muller kernel")
    for seed in (0, 12345, 2**63 - 2):
        ref = torch.randn(n, generator=torch.Generator().manual_seed(seed)).numpy()
        assert torch_randn(seed, n).tobytes() == ref.tobytes()


def test_torch_randn_is_standard_normal() -> None:
    x = torch_randn(7, 200_000)
    assert x.dtype == np.float32 and abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01
