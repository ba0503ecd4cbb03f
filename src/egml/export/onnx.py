"""ONNX export of a trained task: normalisation inside the graph, dynamic sizes, metadata, parity.

The graph is the task's ``forward`` (``FieldNormalizer`` then the model), so raw ntuple inputs
(in egml units after the branch map) go in and the network's raw outputs (logits, or the
regression outputs; see the ``outputs`` metadata) come out; the task's score transform
(sigmoid, softmax, D_el, E = r·E_cluster) is applied by the user, as written in the metadata.
Axis 0 of every input is the batch; axis 1 of every jagged field (one with ``<field>_mask``)
and of its mask is variable (cells, tracks).
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

#: max |ONNX − PyTorch| allowed, in units of max(1, |PyTorch output|) (issue 9)
PARITY_TOLERANCE = 1e-5
OPSET = 17
BATCH_AXIS = "batch"


class TensorInputs(nn.Module):
    """The task's forward with positional tensors (in ``input_names`` order) instead of a dict."""

    def __init__(self, task: nn.Module, input_names: Sequence[str]) -> None:
        super().__init__()
        self.task = task
        self.input_names = list(input_names)

    def forward(self, *tensors: Tensor) -> Tensor | tuple[Tensor, ...]:
        out = self.task(dict(zip(self.input_names, tensors)))
        if isinstance(out, Mapping):
            return tuple(out.values())
        return out


def model_inputs(batch: Mapping[str, Tensor], inputs: Sequence[str]) -> list[str]:
    """Input fields of the network in a fixed order, each jagged field followed by its mask."""
    names = []
    for field in inputs:
        if field not in batch:
            raise ValueError(
                f"input field '{field}' is not in the data batch; expected every data.inputs field"
            )
        names.append(field)
        if f"{field}_mask" in batch and f"{field}_mask" not in inputs:
            names.append(f"{field}_mask")
    return names


def jagged_fields(names: Sequence[str]) -> dict[str, str]:
    """Field (or mask) → its variable-length axis name, for fields that have a mask."""
    out = {}
    for name in names:
        base = name.removesuffix("_mask")
        if f"{base}_mask" in names:
            out[name] = f"n_{base}"
    return out


def dynamic_axes(names: Sequence[str]) -> dict[str, dict[int, str]]:
    jagged = jagged_fields(names)
    return {n: ({0: BATCH_AXIS, 1: jagged[n]} if n in jagged else {0: BATCH_AXIS}) for n in names}


def slice_batch(batch: Mapping[str, Tensor], names: Sequence[str], n: int) -> list[Tensor]:
    """First ``n`` entries; jagged fields trimmed to the longest real (unmasked) length among them."""
    jagged = jagged_fields(names)
    out = []
    for name in names:
        x = batch[name][:n]
        if name in jagged:
            mask = batch[f"{name.removesuffix('_mask')}_mask"][:n].bool()
            length = max(int(mask.sum(dim=1).max()), 1) if mask.numel() else 1
            x = x[:, :length]
        out.append(x.contiguous())
    return out


@contextmanager
def stable_sort_as_topk() -> Iterator[None]:
    """Export ``torch.sort(stable=True)`` (no ONNX symbolic) as a full-length TopK.

    TopK is not guaranteed stable for exactly equal keys; the parity check covers real inputs.
    """
    from torch.onnx import register_custom_op_symbolic, unregister_custom_op_symbolic
    from torch.onnx.symbolic_helper import parse_args

    @parse_args("v", "b", "i", "b")
    def sort_stable(g: Any, x: Any, stable: bool, dim: int, descending: bool) -> Any:
        size = g.op("Gather", g.op("Shape", x), g.op("Constant", value_t=torch.tensor([dim])), axis_i=0)
        return g.op("TopK", x, size, axis_i=dim, largest_i=int(descending), sorted_i=1, outputs=2)

    register_custom_op_symbolic("aten::sort", sort_stable, OPSET)
    try:
        yield
    finally:
        unregister_custom_op_symbolic("aten::sort", OPSET)


def export_onnx(
    task: nn.Module, batch: Mapping[str, Tensor], inputs: Sequence[str], metadata: Mapping[str, Any]
) -> tuple[bytes, list[str]]:
    """Serialized ONNX model and its input names; ``metadata`` values become metadata_props (JSON if not str)."""
    import onnx

    names = model_inputs(batch, inputs)
    wrapper = TensorInputs(task, names).eval()
    example = tuple(slice_batch(batch, names, 8))
    with torch.no_grad():
        out = wrapper(*example)
    n_out = len(out) if isinstance(out, tuple) else 1
    output_names = ["outputs"] if n_out == 1 else [f"outputs_{i}" for i in range(n_out)]
    axes = dynamic_axes(names) | {o: {0: BATCH_AXIS} for o in output_names}
    buf = io.BytesIO()
    with warnings.catch_warnings(), stable_sort_as_topk():
        warnings.simplefilter("ignore")  # tracer warnings; the parity check is the arbiter
        torch.onnx.export(
            wrapper, example, buf, input_names=names, output_names=output_names, dynamic_axes=axes,
            opset_version=OPSET, dynamo=False,
        )  # fmt: skip
    model = onnx.load_from_string(buf.getvalue())
    meta = {"input_names": names, **metadata}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value, default=str)
    onnx.checker.check_model(model)
    return model.SerializeToString(), names


@dataclass
class Parity:
    n_entries: int
    max_abs_diff: float
    max_scaled_diff: float  # |Δ| / max(1, |y_torch|)

    @property
    def ok(self) -> bool:
        return bool(np.isfinite(self.max_scaled_diff) and self.max_scaled_diff <= PARITY_TOLERANCE)


def parity(
    model_bytes: bytes, task: nn.Module, batch: Mapping[str, Tensor], names: Sequence[str], n: int
) -> Parity:
    """Run ONNX Runtime and PyTorch on the first ``n`` entries of a real batch and compare."""
    import onnxruntime as ort

    tensors = slice_batch(batch, names, n)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    graph_inputs = {i.name for i in session.get_inputs()}  # inputs the graph does not use are pruned
    feed = {name: t.cpu().numpy() for name, t in zip(names, tensors) if name in graph_inputs}
    onnx_out = session.run(None, feed)
    with torch.no_grad():
        ref = TensorInputs(task, names).eval()(*tensors)
    refs = [r.float().cpu().numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
    abs_diff, scaled = 0.0, 0.0
    for a, b in zip(onnx_out, refs):
        d = np.abs(np.asarray(a, dtype=np.float64) - b.astype(np.float64))
        abs_diff = max(abs_diff, float(d.max()) if d.size else 0.0)
        scaled = max(scaled, float((d / np.maximum(1.0, np.abs(b))).max()) if d.size else 0.0)
    return Parity(int(tensors[0].shape[0]), abs_diff, scaled)
