"""Cell-set regressors (transformer, Deep Sets): padding/mask and permutation invariance, outputs."""

import pytest
import torch

from egml.losses.regression import regression_loss
from egml.models.cell_transformer import CellTransformer
from egml.models.deep_sets import DeepSets

CELLS = ("cell_E", "cell_eta", "cell_phi")
CLUSTER = ("cl_E", "cl_eta")


def _batch(lengths: list[int], width: int, seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    b = len(lengths)
    mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
    out = {name: torch.randn(b, width, generator=gen) for name in CELLS}
    out["cell_layer"] = torch.randint(0, 5, (b, width), generator=gen)
    out["cell_E_mask"] = mask
    for name in CLUSTER:
        out[name] = torch.randn(b, generator=gen)
    return out


def _pad(batch: dict[str, torch.Tensor], extra: int) -> dict[str, torch.Tensor]:
    """Append ``extra`` padded slots filled with garbage (NaN, huge values, invalid layer ids)."""
    out = dict(batch)
    b = batch["cell_E"].shape[0]
    for name in CELLS:
        junk = torch.full((b, extra), float("nan")) if name == "cell_E" else torch.full((b, extra), 1e6)
        out[name] = torch.cat([batch[name], junk], dim=1)
    out["cell_layer"] = torch.cat([batch["cell_layer"], torch.full((b, extra), 99)], dim=1)
    out["cell_E_mask"] = torch.cat([batch["cell_E_mask"], torch.zeros(b, extra, dtype=torch.bool)], dim=1)
    # garbage also in the already-padded slots of the shorter clusters
    for name in CELLS:
        out[name] = torch.where(out["cell_E_mask"], out[name], torch.full_like(out[name], -7e5))
    return out


MODELS = {
    "transformer_attention": lambda out: CellTransformer(
        CELLS, CLUSTER, embed_dim=16, n_heads=2, n_blocks=2, ff_dim=32, head_widths=(16,), output=out
    ),
    "transformer_mean": lambda out: CellTransformer(
        CELLS, CLUSTER, embed_dim=16, n_heads=2, n_blocks=1, ff_dim=32, pooling="mean", output=out
    ),
    "deep_sets_sum": lambda out: DeepSets(
        CELLS, CLUSTER, phi_widths=(16,), latent_dim=8, rho_widths=(16,), output=out
    ),
    "deep_sets_mean": lambda out: DeepSets(
        CELLS, CLUSTER, phi_widths=(16,), latent_dim=8, pooling="mean", output=out
    ),
}


@pytest.mark.parametrize("name", MODELS)
def test_padding_does_not_change_prediction(name: str) -> None:
    torch.manual_seed(0)
    model = MODELS[name]("gaussian").eval()
    batch = _batch([5, 2, 7], width=7)
    with torch.no_grad():
        ref = model(batch)
        padded = model(_pad(batch, 9))
    assert torch.isfinite(padded).all()
    torch.testing.assert_close(padded, ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", MODELS)
def test_cell_order_does_not_matter(name: str) -> None:
    torch.manual_seed(1)
    model = MODELS[name]("point").eval()
    batch = _batch([6, 6], width=6)
    perm = torch.randperm(6)
    permuted = {k: (v[:, perm] if v.dim() == 2 and k not in CLUSTER else v) for k, v in batch.items()}
    with torch.no_grad():
        torch.testing.assert_close(model(permuted), model(batch), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("output,n_out", [("point", 1), ("gaussian", 2), ("asymmetric", 3)])
def test_outputs_and_training_step(output: str, n_out: int) -> None:
    torch.manual_seed(2)
    model = MODELS["transformer_attention"](output)
    batch = _batch([3, 4, 1, 6], width=6)
    out = model(batch)
    assert out.shape == (4, n_out)
    assert model.output_names[0] == "r"
    assert (out[:, 1:] > 0).all()
    loss_name = {"point": "mse", "gaussian": "gaussian", "asymmetric": "asymmetric_truncated"}[output]
    regression_loss(out, torch.ones(4), loss_name).backward()
    assert model.cell_embed.weight.grad is not None and torch.isfinite(model.cell_embed.weight.grad).all()


def test_cell_information_is_used() -> None:
    torch.manual_seed(3)
    model = MODELS["transformer_attention"]("point").eval()
    batch = _batch([4, 4], width=4)
    changed = dict(batch, cell_E=batch["cell_E"] + 1.0)
    assert not torch.allclose(model(changed), model(batch))


def test_empty_cluster_and_missing_fields_raise() -> None:
    model = MODELS["deep_sets_sum"]("point")
    batch = _batch([3, 0], width=3)
    with pytest.raises(ValueError, match="no unmasked cell"):
        model(batch)
    with pytest.raises(ValueError, match="lacks"):
        model({"cell_E": batch["cell_E"]})
