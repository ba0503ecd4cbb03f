"""Pre-norm transformer encoder block with a key-padding mask, written for shape-agnostic export.

``torch.nn.MultiheadAttention`` bakes the sequence length into ONNX graphs traced by the
TorchScript exporter (a graph exported at L = 5 cells fails at L = 9). This block computes the
same pre-norm attention with reshapes on dimensions read from the input, so one exported graph
serves any batch size and any number of cells.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention; ``mask (B, L)`` True marks real cells, padded keys get weight 0."""

    def __init__(self, dim: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % n_heads:
            raise ValueError(f"attention dim {dim} is not divisible by n_heads {n_heads}")
        self.n_heads = n_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.n_heads, d // self.n_heads).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d // self.n_heads)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = self.dropout(torch.softmax(scores, dim=-1))
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class EncoderBlock(nn.Module):
    """x + Attn(LN(x)); x + FF(LN(x)) with a GELU feed-forward (pre-norm, as in SALT-style encoders)."""

    def __init__(self, dim: int, n_heads: int, ff_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MaskedSelfAttention(dim, n_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(
            nn.Linear(dim, ff_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff_dim, dim)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        x = x + self.dropout(self.attn(self.norm1(x), mask))
        return x + self.dropout(self.ff(self.norm2(x)))
