"""The cell transformer exports to ONNX with dynamic batch and cell count (issue 9 needs both)."""

import io
import warnings

import numpy as np
import pytest
import torch

from egml.models.cell_transformer import CellTransformer

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


class _Tensors(torch.nn.Module):
    def __init__(self, model: CellTransformer) -> None:
        super().__init__()
        self.model = model

    def forward(self, cells, mask, layer, cluster):
        return self.model.forward_tensors(cells, mask, layer, cluster)


def test_transformer_onnx_parity_at_other_cell_count() -> None:
    torch.manual_seed(0)
    model = _Tensors(
        CellTransformer(("a", "b"), ("c",), embed_dim=16, n_heads=2, n_blocks=2, ff_dim=16, output="gaussian")
    ).eval()
    names = ["cells", "mask", "layer", "cluster"]

    def inputs(b: int, n: int) -> tuple[torch.Tensor, ...]:
        mask = torch.arange(n)[None, :] < torch.randint(1, n + 1, (b,))[:, None]
        return torch.randn(b, n, 2), mask, torch.randint(0, 5, (b, n)), torch.randn(b, 1)

    buf = io.BytesIO()
    dyn = {n: {0: "B", 1: "L"} for n in names[:3]} | {"cluster": {0: "B"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, inputs(3, 5), buf, input_names=names, dynamo=False, opset_version=17, dynamic_axes=dyn
        )
    session = ort.InferenceSession(buf.getvalue())
    other = inputs(4, 11)
    out = session.run(None, {n: t.numpy() for n, t in zip(names, other)})[0]
    with torch.no_grad():
        ref = model(*other).numpy()
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
