"""Helpers shared by the models to read a batch dict of tensors keyed by canonical field names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor


def require_fields(batch: Mapping[str, Tensor], names: Sequence[str], model: str) -> None:
    """Raise a one-line ValueError naming the fields a model needs but the batch lacks."""
    missing = [name for name in names if name not in batch]
    if missing:
        raise ValueError(f"{model}: batch lacks fields {missing}; it has {sorted(batch)}")


def stack_fields(batch: Mapping[str, Tensor], names: Sequence[str], model: str) -> Tensor:
    """Stack per-entry scalar (or per-cell) fields along a new last axis, as float32.

    ``(B,)`` fields give ``(B, len(names))``; ``(B, N)`` per-cell fields give ``(B, N, len(names))``.
    """
    require_fields(batch, names, model)
    return torch.stack([batch[name].to(torch.float32) for name in names], dim=-1)


def image_with_channel(image: Tensor, shape: tuple[int, int], name: str) -> Tensor:
    """Return a ``(B, 1, H, W)`` float32 view of an image given as ``(B, H, W)`` or ``(B, 1, H, W)``."""
    if image.dim() == 3:
        image = image.unsqueeze(1)
    if image.dim() != 4 or image.shape[1] != 1 or tuple(image.shape[2:]) != tuple(shape):
        raise ValueError(
            f"image {name}: got shape {tuple(image.shape)}, expected (B, {shape[0]}, {shape[1]})"
        )
    return image.to(torch.float32)
