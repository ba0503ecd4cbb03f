"""Transformer energy calibration over a cluster's cells (reference 003; issue 7).

Each cell (energy, energy fraction, η, φ, x, y, z, …) is embedded by a linear map plus a learned
embedding of its calorimeter layer (PS, L1, L2, L3, TileGap3). Pre-norm transformer blocks
(:mod:`egml.models.attention`) with a key-padding mask (a fully connected graph over the real
cells, as in reference 003) update the embeddings; they are pooled (masked mean or attention
pooling), concatenated with the cluster features (E, η, φ, layer sums, conversion variables,
η annotations…) and a small MLP predicts
r = E_true/E_cluster (and σ, or σ_low/σ_high). See :mod:`egml.models.cell_sets` for the batch
layout, the padding rule and the output convention. E_pred = r · E_cluster is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from egml.models.attention import EncoderBlock
from egml.models.cell_sets import (
    DEFAULT_CELL_FIELDS,
    DEFAULT_CLUSTER_FIELDS,
    N_LAYER_IDS,
    AttentionPooling,
    CellSetInputs,
    RegressionOutput,
    head_input,
    masked_mean,
    mlp,
    neutralise_padding,
    region_embedding,
)
from egml.models.normalization import FeatureNormalizer


class CellTransformer(nn.Module):
    """Transformer encoder over variable-length cell sets with padding mask.

    Args:
        cell_fields / cluster_fields: canonical per-cell ``(B, L)`` and per-cluster ``(B,)`` fields.
        layer_field: integer layer id per cell (None: no layer embedding).
        mask_field: padding mask (default ``<first cell field>_mask``).
        embed_dim, n_heads, n_blocks, ff_dim, dropout: encoder size.
        pooling: ``"mean"`` or ``"attention"``.
        head_widths: hidden widths of the output MLP.
        output: ``"point"``, ``"gaussian"`` or ``"asymmetric"``.
        min_sigma: floor added to predicted σ.
    """

    def __init__(
        self,
        cell_fields: Sequence[str] = DEFAULT_CELL_FIELDS,
        cluster_fields: Sequence[str] = DEFAULT_CLUSTER_FIELDS,
        layer_field: str | None = "cell_layer",
        mask_field: str | None = None,
        embed_dim: int = 64,
        n_heads: int = 4,
        n_blocks: int = 3,
        ff_dim: int = 128,
        dropout: float = 0.0,
        pooling: str = "attention",
        head_widths: Sequence[int] = (128, 64),
        output: str = "point",
        min_sigma: float = 1e-4,
        region_field: str | None = None,
        n_regions: int = 416,
        region_embed_dim: int = 8,
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "attention"):
            raise ValueError(f"CellTransformer pooling={pooling!r}; expected 'mean' or 'attention'")
        if not cell_fields:
            raise ValueError("CellTransformer needs at least one cell field")
        self.inputs = CellSetInputs(cell_fields, cluster_fields, layer_field, mask_field, region_field)
        self.out = RegressionOutput(output, min_sigma)
        self.output_names = self.out.names
        n_cell, n_cluster = len(cell_fields), len(cluster_fields)
        self.cell_norm = FeatureNormalizer(n_cell)
        self.cluster_norm = FeatureNormalizer(n_cluster)
        self.cell_embed = nn.Linear(n_cell, embed_dim)
        self.layer_embed = nn.Embedding(N_LAYER_IDS, embed_dim) if layer_field else None
        self.blocks = nn.ModuleList(
            [EncoderBlock(embed_dim, n_heads, ff_dim, dropout) for _ in range(n_blocks)]
        )
        self.final_norm = nn.LayerNorm(embed_dim)
        self.pool = AttentionPooling(embed_dim) if pooling == "attention" else None
        self.region_embed = region_embedding(region_field, n_regions, region_embed_dim)
        n_region = self.region_embed.dim if self.region_embed is not None else 0
        self.head = mlp(embed_dim + n_cluster + n_region, head_widths, self.out.n_raw, dropout)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Outputs ``(B, len(output_names))`` from a batch dict (see :mod:`egml.models.cell_sets`)."""
        return self.forward_tensors(*self.inputs.read(batch, "CellTransformer"))

    def forward_tensors(
        self,
        cells: Tensor,
        mask: Tensor,
        layer: Tensor | None = None,
        cluster: Tensor | None = None,
        region: Tensor | None = None,
    ) -> Tensor:
        cells, layer = neutralise_padding(cells, mask, layer)
        h = self.cell_embed(torch.where(mask[..., None], self.cell_norm(cells), 0.0))
        if self.layer_embed is not None:
            if layer is None:
                raise ValueError("CellTransformer was built with a layer embedding; expected layer ids")
            h = h + self.layer_embed(layer)
        for block in self.blocks:
            h = block(h, mask)
        h = self.final_norm(h)
        pooled = self.pool(h, mask) if self.pool is not None else masked_mean(h, mask)
        h = head_input(pooled, cluster, region, self.cluster_norm, self.region_embed, "CellTransformer")
        return self.out(self.head(h))
