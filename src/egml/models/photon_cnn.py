"""ATLAS photon-ID CNN over LAr cell images (reference 000, back-up "Model definition").

The seed model (defaults of :class:`PhotonCNN`; config ``experiment=photon_cnn_reference``)
reproduces the Keras summary of reference 000 exactly, 1,248,513 parameters (the config default
adds PS/Had stems, scalar inputs and batch norm: measured better, docs/results.md):

* inputs L1 (2, 56), L2 (11, 7), L3 (11, 4), axis 0 = φ, axis 1 = η (PHYSICS.md §2, §7);
* per input: Conv2D 128 → MaxPool → Conv2D 128 → MaxPool → Flatten, all 'valid' padding;
* concatenate (1664 + 1536 + 768 = 3968) → Dense 256 → GaussianNoise → Dense 256 →
  GaussianNoise → Dense 256 → Dense 1.

The Keras output shapes fix the kernel and pool choices. Each image has a *long axis* (η for L1,
φ for L2 and L3). The first convolution is 2×2; every later convolution and every pool acts on
the long axis only (kernel 2 / pool 2), e.g. L1 (2,56) → conv 2×2 (1,55) → pool 1×2 (1,27) →
conv 1×2 (1,26) → pool 1×2 (1,13). The same rule (with kernels and pools clipped to the current
size) builds stems for the optional PS (2, 7) and Had (3, 3) images.

Not stated in the reference and chosen here: ReLU activations after every convolution and hidden
Dense layer (Keras summaries do not print activations) and a Gaussian-noise standard deviation of
0.1 (active in training mode only, as in Keras).

**The model returns logits** of shape ``(B, n_outputs)``; the reference's sigmoid belongs to the
loss (``BCEWithLogits``) and to evaluation (``torch.sigmoid``). Column order is ``output_names``:

* ``heads="single"``: ``("combined",)``;
* ``heads="layer_split"`` (reference approach #1): ``("combined", "strips", "rest")``: the strips
  output sees only the L1 stem (mimics the narrow-strip cuts), the rest output only the other stems;
* ``heads="disco"`` (reference approach #2): ``("combined", "iso_decorrelated", "orthogonal")`` for
  L = Σ BCE(out_i, y) + λ1 DisCo(out_1, ptcone40) + λ2 DisCo(out_2, out_1) (indices 0-based).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from egml.models.fields import image_with_channel, require_fields, stack_fields
from egml.models.patch_conv import PatchConv2d

# Image shapes (φ, η) of the canonical fields, PHYSICS.md §2 "Inputs" and §7 (T1 branches).
IMAGE_SHAPES: dict[str, tuple[int, int]] = {
    "img_PS": (2, 7),
    "img_L1": (2, 56),
    "img_L2": (11, 7),
    "img_L3": (11, 4),
    "img_Had": (3, 3),
}
SEED_INPUTS: tuple[str, ...] = ("img_L1", "img_L2", "img_L3")
HEAD_NAMES: dict[str, tuple[str, ...]] = {
    "single": ("combined",),
    "layer_split": ("combined", "strips", "rest"),
    "disco": ("combined", "iso_decorrelated", "orthogonal"),
}
INPUT_TRANSFORMS = ("none", "log1p", "fraction")
# Fixed, scale-free encodings of known kinematic scalars (raw GeV spans 10–1000: a linear input
# would saturate); other scalar fields pass through unchanged (standardise them via data.normalize).
SCALAR_ENCODINGS = {
    "pt": lambda x: torch.log(torch.clamp(x, min=1.0) / 25.0),
    "eta": torch.abs,
    "conv_type": lambda x: (x > 0).to(x.dtype),
}


class GaussianNoise(nn.Module):
    """Additive zero-mean Gaussian noise in training mode, identity in eval mode (as Keras)."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.std = float(std)

    def forward(self, x: Tensor) -> Tensor:
        if self.training and self.std > 0:
            return x + self.std * torch.randn_like(x)
        return x


def _along_long_axis(size: tuple[int, int], long_axis: int, step: int) -> tuple[int, int]:
    """Kernel/pool of ``step`` along the long axis, 1 on the other, clipped to the current size."""
    out = [1, 1]
    out[long_axis] = min(step, size[long_axis])
    return out[0], out[1]


class LayerStem(nn.Module):
    """Convolutional stem for one calorimeter-layer image: (conv → [norm] → ReLU → pool) × n."""

    def __init__(self, shape: tuple[int, int], filters: Sequence[int], norm: str) -> None:
        super().__init__()
        long_axis = 1 if shape[1] > shape[0] else 0
        layers: list[nn.Module] = []
        size = shape
        in_ch = 1
        for i, out_ch in enumerate(filters):
            if i == 0:
                kernel = (min(2, size[0]), min(2, size[1]))
            else:
                kernel = _along_long_axis(size, long_axis, 2)
            # wide-channel convolutions as patch GEMMs (patch_conv.py: same parameters and output)
            layers.append(
                PatchConv2d(in_ch, out_ch, kernel) if in_ch > 1 else nn.Conv2d(in_ch, out_ch, kernel)
            )
            size = (size[0] - kernel[0] + 1, size[1] - kernel[1] + 1)
            if norm == "batch":
                layers.append(nn.BatchNorm2d(out_ch))
            layers.append(nn.ReLU())
            pool = _along_long_axis(size, long_axis, 2)
            layers.append(nn.MaxPool2d(pool))
            size = (size[0] // pool[0], size[1] // pool[1])
            in_ch = out_ch
        layers.append(nn.Flatten())
        # channels-last weights and input (forward): PyTorch's NCHW max-pool over a 1×2 window of
        # 128 channels is a scalar loop on the CPU (20 % of a step); NHWC vectorises over channels
        # (+35 % training samples/s, same outputs). Loaded checkpoints keep this layout.
        self.net = nn.Sequential(*layers).to(memory_format=torch.channels_last)
        self.out_features = in_ch * size[0] * size[1]

    def forward(self, image: Tensor) -> Tensor:
        return self.net(image.contiguous(memory_format=torch.channels_last))


def _dense_tower(
    in_features: int, widths: Sequence[int], noise_std: float, dropout: float, norm: str
) -> nn.Sequential:
    """Dense 256 → noise → Dense 256 → noise → Dense 256 → Dense 1 (noise after all but the last)."""
    layers: list[nn.Module] = []
    width_in = in_features
    for i, width in enumerate(widths):
        layers.append(nn.Linear(width_in, width))
        if norm == "batch":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.ReLU())
        if i < len(widths) - 1:
            layers.append(GaussianNoise(noise_std))
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width_in = width
    layers.append(nn.Linear(width_in, 1))
    return nn.Sequential(*layers)


class PhotonCNN(nn.Module):
    """Multi-stem photon-ID CNN; defaults reproduce reference 000 (1,248,513 parameters).

    Args:
        inputs: image fields, one stem each (add ``"img_PS"``/``"img_Had"`` for the extra layers).
        conv_filters: filters of the successive convolutions of every stem (depth = its length).
        dense_widths: hidden Dense widths of every output tower.
        heads: ``"single"``, ``"layer_split"`` or ``"disco"`` (see module docstring).
        noise_std: Gaussian-noise std after hidden Dense layers (training only).
        dropout: dropout after every hidden Dense layer (0 = off, as in the reference).
        norm: ``"none"`` (reference) or ``"batch"`` (BatchNorm after every conv and Dense).
        input_transform: ``"none"`` (reference, GeV), ``"log1p"`` (sign(E)·log(1 + |E|/1 GeV)) or
            ``"fraction"`` (each cell over the summed energy of all input images).
        scalar_fields: optional per-candidate scalars (e.g. ``pt``, ``eta``, ``conv_type``) appended
            to the flattened features of the towers that see every stem (not the strips/rest towers);
            ``pt`` enters as ln(pT/25 GeV), ``eta`` as |η|, ``conv_type`` as converted yes/no.
        image_shapes: overrides of :data:`IMAGE_SHAPES`.
    """

    def __init__(
        self,
        inputs: Sequence[str] = SEED_INPUTS,
        conv_filters: Sequence[int] = (128, 128),
        dense_widths: Sequence[int] = (256, 256, 256),
        heads: str = "single",
        noise_std: float = 0.1,
        dropout: float = 0.0,
        norm: str = "none",
        input_transform: str = "none",
        scalar_fields: Sequence[str] = (),
        image_shapes: Mapping[str, Sequence[int]] | None = None,
    ) -> None:
        super().__init__()
        shapes = {**IMAGE_SHAPES, **{k: tuple(v) for k, v in (image_shapes or {}).items()}}
        unknown = [name for name in inputs if name not in shapes]
        if unknown or not inputs:
            raise ValueError(
                f"PhotonCNN inputs {list(inputs)}: unknown {unknown}; expected some of {list(shapes)}"
            )
        if heads not in HEAD_NAMES:
            raise ValueError(f"PhotonCNN heads={heads!r}; expected one of {list(HEAD_NAMES)}")
        if norm not in ("none", "batch"):
            raise ValueError(f"PhotonCNN norm={norm!r}; expected 'none' or 'batch'")
        if input_transform not in INPUT_TRANSFORMS:
            raise ValueError(
                f"PhotonCNN input_transform={input_transform!r}; expected one of {INPUT_TRANSFORMS}"
            )
        if heads == "layer_split" and ("img_L1" not in inputs or len(inputs) < 2):
            raise ValueError("PhotonCNN heads='layer_split' needs 'img_L1' and at least one other input")
        self.inputs = tuple(inputs)
        self.image_shapes = {name: (int(shapes[name][0]), int(shapes[name][1])) for name in self.inputs}
        self.scalar_fields = tuple(scalar_fields)
        self.heads = heads
        self.input_transform = input_transform
        self.output_names = HEAD_NAMES[heads]
        self.stems = nn.ModuleDict(
            {name: LayerStem(self.image_shapes[name], conv_filters, norm) for name in self.inputs}
        )
        n_all = sum(stem.out_features for stem in self.stems.values()) + len(self.scalar_fields)

        def tower(n_in: int) -> nn.Sequential:
            return _dense_tower(n_in, dense_widths, noise_std, dropout, norm)

        if heads == "layer_split":
            n_strips = self.stems["img_L1"].out_features
            n_rest = n_all - len(self.scalar_fields) - n_strips
            self.towers = nn.ModuleList([tower(n_all), tower(n_strips), tower(n_rest)])
        else:
            self.towers = nn.ModuleList([tower(n_all) for _ in self.output_names])

    def _transform(self, images: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.input_transform == "log1p":
            return {k: torch.sign(v) * torch.log1p(v.abs()) for k, v in images.items()}
        if self.input_transform == "fraction":
            total = sum(v.sum(dim=(1, 2, 3)) for v in images.values())
            scale = 1.0 / torch.clamp(total, min=1e-6)
            return {k: v * scale[:, None, None, None] for k, v in images.items()}
        return images

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Logits ``(B, len(output_names))`` from a batch dict of images ``(B, φ, η)``."""
        require_fields(batch, self.inputs, "PhotonCNN")
        images = {
            name: image_with_channel(batch[name], self.image_shapes[name], name) for name in self.inputs
        }
        images = self._transform(images)
        flat = {name: self.stems[name](img) for name, img in images.items()}
        parts = [flat[name] for name in self.inputs]
        if self.scalar_fields:
            scalars = stack_fields(batch, self.scalar_fields, "PhotonCNN").float()
            encoded = [
                SCALAR_ENCODINGS[name](scalars[:, i]) if name in SCALAR_ENCODINGS else scalars[:, i]
                for i, name in enumerate(self.scalar_fields)
            ]
            parts.append(torch.stack(encoded, dim=1))
        everything = torch.cat(parts, dim=1)
        if self.heads == "layer_split":
            rest = torch.cat([flat[name] for name in self.inputs if name != "img_L1"], dim=1)
            tower_inputs = [everything, flat["img_L1"], rest]
        else:
            tower_inputs = [everything] * len(self.towers)
        return torch.cat([t(x) for t, x in zip(self.towers, tower_inputs)], dim=1)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters (the 'Trainable params' line of a Keras summary)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
