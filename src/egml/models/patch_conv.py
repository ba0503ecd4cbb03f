"""A 'valid', stride-1 convolution computed as one matrix product over gathered patches.

The photon-ID stems convolve tiny images (at most 11×56) with 2×2 and 1×2 kernels and 128
channels. Library convolutions are tuned for large maps: on a CPU the backward pass of these
took a third of a training step, and on an H100 one cuDNN weight-gradient kernel took 38 % of
the GPU time (benchmarks/gpu/profile_step.py). Gathering the kh·kw shifted views of the
channels-last input side by side turns forward and both gradients into plain GEMMs.

:class:`PatchConv2d` is an ``nn.Conv2d`` (same parameters, state dict, initialisation and output)
with only ``forward`` replaced, so checkpoints and parameter counts are unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class PatchConv2d(nn.Conv2d):
    """``nn.Conv2d`` (padding 0, stride 1, dilation 1, groups 1) as patches @ weight."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int]) -> None:
        super().__init__(in_channels, out_channels, kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        kh, kw = self.kernel_size
        h_out, w_out = x.shape[2] - kh + 1, x.shape[3] - kw + 1
        nhwc = x.permute(0, 2, 3, 1)  # a view when x is channels-last
        patches = torch.cat(
            [nhwc[:, i : i + h_out, j : j + w_out, :] for i in range(kh) for j in range(kw)], dim=-1
        )  # (B, H_out, W_out, kh·kw·C), ordered (i, j, c)
        weight = self.weight.permute(0, 2, 3, 1).reshape(self.out_channels, -1)  # same (i, j, c) order
        return F.linear(patches, weight, self.bias).permute(0, 3, 1, 2)  # NCHW view, channels-last memory
