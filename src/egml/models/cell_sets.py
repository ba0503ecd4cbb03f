"""Shared pieces of the set models over calorimeter cells (transformer, Deep Sets).

Batch layout (from :mod:`egml.data.batching`): per-cell fields are ``(B, L)`` tensors padded to
the longest cluster of the batch, with a boolean ``<field>_mask`` (True = real cell); cluster
fields are ``(B,)``. The models also accept the explicit tensors ``cells (B, L, F)``,
``mask (B, L)``, ``layer (B, L)`` and ``cluster (B, Fc)`` through ``forward_tensors``.

Padded slots are neutralised (features set to 0, layer to 0) before anything else, so whatever
the data layer pads with (even NaN) cannot leak into the prediction.

Outputs (``output=``): ``"point"`` → ``(B, 1)`` r; ``"gaussian"`` → ``(B, 2)`` (r, σ);
``"asymmetric"`` → ``(B, 3)`` (r, σ_low, σ_high), matching :func:`egml.losses.regression.regression_loss`.
r is predicted as r_offset + r_scale·head, σ = r_scale·softplus + ``min_sigma``; the offset and
scale default to 1 (r = 1 + head: the response is near 1) and the task may set them to the
training mean and spread of r (``RegressionOutput.set_target``), so the head works on a
standardised target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from egml.models.fields import require_fields, stack_fields

OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    "point": ("r",),
    "gaussian": ("r", "sigma"),
    "asymmetric": ("r", "sigma_low", "sigma_high"),
}
# Layer ids of PHYSICS.md §5 "Cell features": 0 PS, 1–3 accordion layers, 4 TileGap3.
N_LAYER_IDS = 5
DEFAULT_CELL_FIELDS = ("cell_E", "cell_E_over_layer", "cell_eta", "cell_phi", "cell_x", "cell_y", "cell_z")
DEFAULT_CLUSTER_FIELDS = ("cl_E", "cl_eta", "cl_phi", "cl_E0", "cl_E1", "cl_E2", "cl_E3", "cl_E_TileGap3")


def mlp(n_in: int, widths: Sequence[int], n_out: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear → GELU (→ Dropout) for every hidden width, then a Linear to ``n_out``."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(n_in, width), nn.GELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, n_out))
    return nn.Sequential(*layers)


class RegressionOutput(nn.Module):
    """Maps head features to (r[, σ…]) as described in the module docstring."""

    def __init__(self, output: str, min_sigma: float) -> None:
        super().__init__()
        if output not in OUTPUT_NAMES:
            raise ValueError(f"output={output!r}; expected one of {list(OUTPUT_NAMES)}")
        self.names = OUTPUT_NAMES[output]
        self.min_sigma = float(min_sigma)
        # target standardisation r = r_offset + r_scale·raw (identity 1 + raw until set_target)
        self.register_buffer("r_offset", torch.ones(()))
        self.register_buffer("r_scale", torch.ones(()))

    def set_target(self, offset: float, scale: float) -> None:
        """Predict r around ``offset`` in units of ``scale`` (e.g. the training mean and spread of r)."""
        if not scale > 0:
            raise ValueError(f"target scale {scale}; expected > 0")
        self.r_offset.fill_(float(offset))
        self.r_scale.fill_(float(scale))

    @property
    def n_raw(self) -> int:
        return len(self.names)

    def forward(self, raw: Tensor) -> Tensor:
        r = self.r_offset + self.r_scale * raw[:, :1]
        if raw.shape[1] == 1:
            return r
        return torch.cat([r, self.r_scale * F.softplus(raw[:, 1:]) + self.min_sigma], dim=1)


class CellSetInputs(nn.Module):
    """Reads cell and cluster tensors from a batch dict and neutralises padded cells."""

    def __init__(
        self,
        cell_fields: Sequence[str],
        cluster_fields: Sequence[str],
        layer_field: str | None,
        mask_field: str | None,
        region_field: str | None = None,
    ) -> None:
        super().__init__()
        self.cell_fields = tuple(cell_fields)
        self.cluster_fields = tuple(cluster_fields)
        self.layer_field = layer_field
        self.mask_field = mask_field or (f"{self.cell_fields[0]}_mask" if self.cell_fields else None)
        self.region_field = region_field

    def read(
        self, batch: Mapping[str, Tensor], model: str
    ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None, Tensor | None]:
        """``(cells, mask, layer, cluster, region)``: the arguments of a model's ``forward_tensors``."""
        needed = [*self.cell_fields, *([self.mask_field] if self.mask_field else [])]
        require_fields(batch, needed, model)
        cells = stack_fields(batch, self.cell_fields, model)
        mask = (
            batch[self.mask_field].to(torch.bool)
            if self.mask_field
            else torch.ones(cells.shape[:2], dtype=torch.bool)
        )
        layer = batch[self.layer_field] if self.layer_field else None
        cluster = stack_fields(batch, self.cluster_fields, model) if self.cluster_fields else None
        region = batch[self.region_field] if self.region_field else None
        return cells, mask, layer, cluster, region


def neutralise_padding(cells: Tensor, mask: Tensor, layer: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """Zero the features (and layer id) of padded cells; refuse clusters with no cell at all."""
    if cells.dim() != 3 or mask.shape != cells.shape[:2]:
        raise ValueError(
            f"cells {tuple(cells.shape)} and mask {tuple(mask.shape)}: expected (B, L, F) and (B, L)"
        )
    if not bool(mask.any(dim=1).all()):
        raise ValueError("a cluster has no unmasked cell; expected at least one cell per cluster")
    cells = torch.where(
        mask[..., None], cells.float(), torch.zeros((), dtype=torch.float32, device=cells.device)
    )
    if layer is not None:
        layer = torch.where(mask, layer.long(), torch.zeros((), dtype=torch.long, device=layer.device))
        layer = layer.clamp(0, N_LAYER_IDS - 1)
    return cells, layer


def masked_mean(h: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``h (B, L, D)`` over the real cells of ``mask (B, L)``."""
    m = mask[..., None].to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)


class RegionEmbedding(nn.Module):
    """Learned vector per id of an integer cluster field (e.g. the calorimeter region of the
    cluster, whose fixed miscalibration a smooth function of η, φ cannot follow)."""

    def __init__(self, field: str, n_ids: int, dim: int) -> None:
        super().__init__()
        if n_ids < 1 or dim < 1:
            raise ValueError(f"region embedding of {field!r}: n_ids={n_ids}, dim={dim}; expected >= 1")
        self.field, self.n_ids = field, int(n_ids)
        self.embed = nn.Embedding(self.n_ids, dim)

    @property
    def dim(self) -> int:
        return self.embed.embedding_dim

    def forward(self, ids: Tensor) -> Tensor:
        return self.embed(ids.long().clamp(0, self.n_ids - 1))


def region_embedding(field: str | None, n_ids: int, dim: int) -> RegionEmbedding | None:
    return RegionEmbedding(field, n_ids, dim) if field else None


def head_input(
    pooled: Tensor,
    cluster: Tensor | None,
    region: Tensor | None,
    cluster_norm: nn.Module,
    region_embed: RegionEmbedding | None,
    model: str,
) -> Tensor:
    """The head's input: the pooled cells, the normalised cluster features and the region embedding."""
    parts = [pooled]
    if cluster is not None and cluster.shape[-1] > 0:
        parts.append(cluster_norm(cluster.float()))
    if region_embed is not None:
        if region is None:
            raise ValueError(f"{model} was built with region_field; expected region ids")
        parts.append(region_embed(region))
    return torch.cat(parts, dim=1)


class AttentionPooling(nn.Module):
    """Softmax-weighted sum of cell embeddings with a learned score; padded cells get weight 0."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1)

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        s = self.score(h).squeeze(-1).masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=1)
        return torch.einsum("bl,bld->bd", a, h)
