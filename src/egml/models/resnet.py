"""ResNet tagger for 32×32 calorimeter + tracker images (CMS merged-photon tagger, reference 002).

Input channels are chosen by config from the image fields (reference 002: ECAL energy, track pT,
track dxy, track dz; shower-only, track-only and shower+track are the reference's ablation).
Architecture (not specified by the reference beyond "CNN with ResNet architecture"): a 3×3 stem,
``len(widths)`` stages of ``blocks_per_stage`` basic residual blocks (two 3×3 convs with
BatchNorm, identity or 1×1-projection shortcut; stride 2 at the start of every stage but the
first), global average pooling and a linear layer.

Input scaling (``input_transform``): ECAL cell energies span four orders of magnitude (noise
~0.03 GeV, the seed up to hundreds of GeV) and the track channels are sparse with a long tail, so
a single (mean, std) per image leaves almost every pixel at ~0 and the seed at ~100σ.
``"log1p"`` maps every channel to sign(x)·log(1 + |x|) (in the data's units, GeV / cm) before
the stem; ``"none"`` feeds the values as given (the reference setup). ``input_norm=True`` adds a
per-channel BatchNorm (no affine) on the transformed input, i.e. a learned per-channel
standardisation.

``augment_flips=True`` mirrors each training image in η and/or φ at random (probability 1/2
each; never at evaluation): approximate symmetries of the barrel (η ↔ −η) and of a
charge-symmetric sample in the solenoid field (φ ↔ −φ), i.e. four views of every candidate for a
data-limited training.

``scalars`` (e.g. ``[pt, eta]``) are per-candidate fields fed to the head next to the pooled
image features (sign·log1p, then a per-field BatchNorm without affine), through a hidden layer of
``head_hidden`` units when > 0: the shower shape of A → γγ depends on m_A/pT (opening angle), and
the images carry energy, not pT. Fields listed in both ``channels`` and ``scalars`` are scalars
(so ``data.inputs`` can list them for the export).

Outputs are **logits**: ``n_outputs=1`` for the binary tagger (merged photon vs QCD fake; apply
sigmoid for the score, which is also what the reference's MSE loss acts on), ``n_outputs=3`` for
the three-class tagger (softmax; class order set by the task's labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from egml.models.fields import require_fields

DEFAULT_CHANNELS = ("SC_energy", "TracksPt", "TracksDxy", "TracksDz")  # PHYSICS.md §7, T3 tree
INPUT_TRANSFORMS = ("none", "log1p")


class BasicBlock(nn.Module):
    """conv3×3 → BN → ReLU → conv3×3 → BN, plus shortcut, → ReLU."""

    def __init__(self, n_in: int, n_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(n_out)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(n_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or n_in != n_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(n_in, n_out, 1, stride=stride, bias=False), nn.BatchNorm2d(n_out)
            )
        self.act = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        return self.act(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetTagger(nn.Module):
    """ResNet over ``(B, C, 32, 32)`` images stacked from ``channels`` (rows iη, columns iφ).

    Args:
        channels: image fields, one input channel each.
        widths: channels of each stage (depth = number of stages).
        blocks_per_stage: residual blocks per stage.
        n_outputs: 1 (binary) or 3 (three-class) logits.
        dropout: before the final linear layer.
        image_size: expected image side (32 in reference 002).
        input_transform: ``"none"`` (reference) or ``"log1p"`` (sign(x)·log(1 + |x|) per pixel).
        input_norm: per-channel BatchNorm (affine=False) on the (transformed) input.
        augment_flips: random η/φ mirror images in training mode.
        scalars: per-candidate fields for the head (not image channels).
        head_hidden: hidden units of the head (0: one linear layer).
    """

    def __init__(
        self,
        channels: Sequence[str] = DEFAULT_CHANNELS,
        widths: Sequence[int] = (32, 64, 128),
        blocks_per_stage: int = 2,
        n_outputs: int = 1,
        dropout: float = 0.0,
        image_size: int = 32,
        input_transform: str = "none",
        input_norm: bool = False,
        augment_flips: bool = False,
        scalars: Sequence[str] = (),
        head_hidden: int = 0,
    ) -> None:
        super().__init__()
        self.scalars = tuple(scalars)
        channels = [c for c in channels if c not in self.scalars]
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(
                f"ResNetTagger input_transform={input_transform!r}; expected one of {INPUT_TRANSFORMS}"
            )
        self.input_transform = input_transform
        self.augment_flips = bool(augment_flips)
        self.input_norm: nn.Module = (
            nn.BatchNorm2d(len(channels), affine=False) if input_norm and channels else nn.Identity()
        )
        if not channels or not widths or blocks_per_stage < 1 or n_outputs < 1:
            raise ValueError(
                f"ResNetTagger channels={list(channels)}, widths={list(widths)}, blocks={blocks_per_stage}, "
                f"n_outputs={n_outputs}; expected non-empty channels/widths and positive counts"
            )
        self.channels = tuple(channels)
        self.image_size = int(image_size)
        self.output_names = (
            ("merged_photon",) if n_outputs == 1 else tuple(f"class{i}" for i in range(n_outputs))
        )
        self.stem = nn.Sequential(
            nn.Conv2d(len(self.channels), widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        n_in = widths[0]
        for stage, width in enumerate(widths):
            for i in range(blocks_per_stage):
                blocks.append(BasicBlock(n_in, width, stride=2 if (i == 0 and stage > 0) else 1))
                n_in = width
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        n_s = len(self.scalars)
        self.scalar_norm: nn.Module = nn.BatchNorm1d(n_s, affine=False) if n_s else nn.Identity()
        n_head = n_in + n_s
        self.fc: nn.Module = (
            nn.Sequential(nn.Linear(n_head, head_hidden), nn.ReLU(), nn.Linear(head_hidden, n_outputs))
            if head_hidden > 0
            else nn.Linear(n_head, n_outputs)
        )

    def stack_images(self, batch: Mapping[str, Tensor]) -> Tensor:
        """``(B, C, H, W)`` float32 from per-channel ``(B, H, W)`` or flat ``(B, H·W)`` fields (row-major)."""
        require_fields(batch, self.channels, "ResNetTagger")
        side = self.image_size
        images = []
        for name in self.channels:
            img = batch[name].to(torch.float32)
            if img.dim() == 2 and img.shape[1] == side * side:
                img = img.reshape(-1, side, side)
            if img.dim() != 3 or tuple(img.shape[1:]) != (side, side):
                raise ValueError(
                    f"image {name}: shape {tuple(batch[name].shape)}; expected (B, {side}, {side})"
                )
            images.append(img)
        return torch.stack(images, dim=1)

    def forward(self, batch: Mapping[str, Tensor] | Tensor) -> Tensor:
        """Logits ``(B, n_outputs)`` from a batch dict or an explicit ``(B, C, H, W)`` tensor."""
        x = batch.to(torch.float32) if isinstance(batch, Tensor) else self.stack_images(batch)
        if x.dim() != 4 or x.shape[1] != len(self.channels):
            raise ValueError(
                f"ResNetTagger input shape {tuple(x.shape)}; expected (B, {len(self.channels)}, H, W)"
            )
        if self.input_transform == "log1p":
            x = torch.sign(x) * torch.log1p(x.abs())
        if self.augment_flips and self.training:
            flip = torch.rand(2, x.shape[0], 1, 1, 1, device=x.device) < 0.5
            x = torch.where(flip[0], x.flip(-2), x)  # rows: iη
            x = torch.where(flip[1], x.flip(-1), x)  # columns: iφ
        h = self.pool(self.blocks(self.stem(self.input_norm(x)))).flatten(1)
        if self.scalars:
            if isinstance(batch, Tensor):
                raise ValueError(f"ResNetTagger with scalars {list(self.scalars)} needs a batch dict")
            require_fields(batch, self.scalars, "ResNetTagger")
            s = torch.stack([batch[n].to(torch.float32).reshape(-1) for n in self.scalars], dim=1)
            h = torch.cat([h, self.scalar_norm(torch.sign(s) * torch.log1p(s.abs()))], dim=1)
        return self.fc(self.dropout(h))
