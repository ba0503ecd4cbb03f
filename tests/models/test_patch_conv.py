"""PatchConv2d is nn.Conv2d with a GEMM forward: same output, gradients and state dict."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from egml.models.patch_conv import PatchConv2d


@pytest.mark.parametrize(
    ("c_in", "kernel", "size"),
    [(1, (2, 2), (2, 56)), (8, (1, 2), (1, 27)), (8, (2, 1), (5, 7)), (3, (2, 3), (6, 9))],
)
def test_patch_conv_matches_conv2d(c_in, kernel, size):
    torch.manual_seed(3)
    patch = PatchConv2d(c_in, 16, kernel).to(memory_format=torch.channels_last)
    ref = nn.Conv2d(c_in, 16, kernel).to(memory_format=torch.channels_last)
    ref.load_state_dict(patch.state_dict())
    x = torch.randn(5, c_in, *size).contiguous(memory_format=torch.channels_last)
    xp, xr = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    out_p, out_r = patch(xp), ref(xr)
    assert out_p.shape == out_r.shape
    torch.testing.assert_close(out_p, out_r, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(out_r)
    out_p.backward(grad)
    out_r.backward(grad)
    torch.testing.assert_close(xp.grad, xr.grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(patch.weight.grad, ref.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(patch.bias.grad, ref.bias.grad, rtol=1e-4, atol=1e-4)
