"""Deep Sets energy calibration: a lighter permutation-invariant alternative to the transformer.

ρ( pool_i φ(cell_i ⊕ layer_i) ⊕ cluster ) with φ, ρ MLPs and a masked sum or mean pooling
(Zaheer et al. 2017; the point-cloud model family of reference 004). Sum pooling keeps the
information on the number of cells and the absolute energy scale; mean pooling is less
sensitive to the cluster size. Inputs, padding rule and outputs as in :mod:`egml.models.cell_sets`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from egml.models.cell_sets import (
    DEFAULT_CELL_FIELDS,
    DEFAULT_CLUSTER_FIELDS,
    N_LAYER_IDS,
    CellSetInputs,
    RegressionOutput,
    head_input,
    masked_mean,
    mlp,
    neutralise_padding,
    region_embedding,
)
from egml.models.normalization import FeatureNormalizer


class DeepSets(nn.Module):
    """Per-cell MLP φ → masked pooling → MLP ρ with the cluster features."""

    def __init__(
        self,
        cell_fields: Sequence[str] = DEFAULT_CELL_FIELDS,
        cluster_fields: Sequence[str] = DEFAULT_CLUSTER_FIELDS,
        layer_field: str | None = "cell_layer",
        mask_field: str | None = None,
        phi_widths: Sequence[int] = (64, 64),
        latent_dim: int = 64,
        rho_widths: Sequence[int] = (128, 64),
        layer_embed_dim: int = 8,
        pooling: str = "sum",
        dropout: float = 0.0,
        output: str = "point",
        min_sigma: float = 1e-4,
        region_field: str | None = None,
        n_regions: int = 416,
        region_embed_dim: int = 8,
    ) -> None:
        super().__init__()
        if pooling not in ("sum", "mean"):
            raise ValueError(f"DeepSets pooling={pooling!r}; expected 'sum' or 'mean'")
        if not cell_fields:
            raise ValueError("DeepSets needs at least one cell field")
        self.inputs = CellSetInputs(cell_fields, cluster_fields, layer_field, mask_field, region_field)
        self.out = RegressionOutput(output, min_sigma)
        self.output_names = self.out.names
        self.pooling = pooling
        self.cell_norm = FeatureNormalizer(len(cell_fields))
        self.cluster_norm = FeatureNormalizer(len(cluster_fields))
        self.layer_embed = nn.Embedding(N_LAYER_IDS, layer_embed_dim) if layer_field else None
        n_phi_in = len(cell_fields) + (layer_embed_dim if layer_field else 0)
        self.phi = nn.Sequential(mlp(n_phi_in, phi_widths, latent_dim, dropout), nn.GELU())
        self.region_embed = region_embedding(region_field, n_regions, region_embed_dim)
        n_region = self.region_embed.dim if self.region_embed is not None else 0
        self.rho = mlp(latent_dim + len(cluster_fields) + n_region, rho_widths, self.out.n_raw, dropout)

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        return self.forward_tensors(*self.inputs.read(batch, "DeepSets"))

    def forward_tensors(
        self,
        cells: Tensor,
        mask: Tensor,
        layer: Tensor | None = None,
        cluster: Tensor | None = None,
        region: Tensor | None = None,
    ) -> Tensor:
        cells, layer = neutralise_padding(cells, mask, layer)
        x = torch.where(mask[..., None], self.cell_norm(cells), 0.0)
        if self.layer_embed is not None:
            if layer is None:
                raise ValueError("DeepSets was built with a layer embedding; expected layer ids")
            x = torch.cat([x, self.layer_embed(layer)], dim=-1)
        h = self.phi(x)
        pooled = (h * mask[..., None]).sum(dim=1) if self.pooling == "sum" else masked_mean(h, mask)
        h = head_input(pooled, cluster, region, self.cluster_norm, self.region_embed, "DeepSets")
        return self.out(self.rho(h))
