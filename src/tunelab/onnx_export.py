"""Export a trained run's model to ONNX, checked against PyTorch with ONNX Runtime.

The model is traced with PyTorch's ``torch.export``-based exporter (``dynamo=True``),
with the batch (and, for text, the sequence) dimension dynamic, so the file serves any
batch of any length up to the model's positions. Text models take ``input_ids``,
``attention_mask`` (and ``token_type_ids`` where the tokenizer makes them); image models
take normalised ``pixel_values``; both return ``logits``. An unmerged LoRA run is merged
into its base weights first: ONNX has no adapters.

The export is only kept if ONNX Runtime, run on sample inputs of two shapes, gives the
same probabilities as PyTorch (``max_abs_diff`` within ``tolerance``).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tunelab.errors import ModelError, TunelabError
from tunelab.io import atomic_write
from tunelab.tasks.base import ExportSignature

ONNX_FILE = "model.onnx"
INSTALL_HINT = "pip install 'tunelab[onnx]' (onnx, onnxscript, onnxruntime)"


@dataclass(frozen=True)
class OnnxExport:
    """Where the file went and how closely ONNX Runtime reproduces PyTorch."""

    path: Path
    inputs: list[str]
    max_abs_diff: float
    size_mb: float


def export_onnx(
    run_dir: str | Path, output: str | Path | None = None, tolerance: float = 1e-4
) -> OnnxExport:
    """Write ``RUN_DIR/model/model.onnx`` (or ``output``) and verify it.

    Raises:
        TunelabError: the onnx packages are missing, or ONNX Runtime's probabilities
            differ from PyTorch's by more than ``tolerance`` (nothing is written then).
    """
    from tunelab.inference import load, run_task
    from tunelab.run_dir import model_dir_of

    _require_onnx()
    model_dir = model_dir_of(Path(run_dir))
    signature = _signature(load(run_dir), run_task(run_dir))
    samples = signature.samples
    target = Path(output) if output else model_dir / ONNX_FILE

    diffs: list[float] = []

    def write(tmp: Path) -> None:
        _export(signature, tmp)
        diffs.append(_max_prob_diff(signature.module, tmp, samples))
        if diffs[-1] > tolerance:
            raise ModelError(
                f"{run_dir}: ONNX Runtime's probabilities differ from PyTorch's by "
                f"{diffs[-1]:.2g} (> {tolerance:g}); the export was not written"
            )

    atomic_write(target, write)
    return OnnxExport(target, list(samples[0]), diffs[-1], target.stat().st_size / 2**20)


def _require_onnx() -> None:
    for module in ("onnx", "onnxscript", "onnxruntime"):
        try:
            __import__(module)
        except ImportError:
            raise TunelabError(
                f"ONNX export needs the '{module}' package; {INSTALL_HINT}"
            ) from None


def _signature(predictor: Any, task: Any) -> ExportSignature:
    """The task's export module, with LoRA merged and the model on CPU in eval mode."""
    from tunelab.strategies.lora import merged

    model = predictor.model.cpu().eval()
    model.backbone = merged(model.backbone)
    return task.export_signature(predictor)


def _export(signature: ExportSignature, path: Path) -> None:
    sample = signature.samples[0]
    names = list(sample)
    dims = {dim for axes in signature.dynamic.values() for dim in axes.values()}
    named = {dim: torch.export.Dim(dim) for dim in dims}
    dynamic = {
        name: {axis: named[dim] for axis, dim in signature.dynamic.get(name, {}).items()}
        for name in names
    }
    with _quiet_exporter():
        program = torch.onnx.export(
            signature.module.eval(),
            (),
            kwargs=sample,
            dynamo=True,
            input_names=names,
            output_names=[signature.output_name],
            dynamic_shapes=dynamic,
            verbose=False,
        )
        program.save(str(path))


def _max_prob_diff(model: torch.nn.Module, path: Path, samples: list[dict]) -> float:
    """Largest probability difference between ONNX Runtime and PyTorch over ``samples``."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for sample in samples:
        with torch.inference_mode():
            expected = model(**sample).float().softmax(-1).numpy()
        (logits,) = session.run(None, {k: v.numpy() for k, v in sample.items()})
        got = torch.from_numpy(np.asarray(logits)).softmax(-1).numpy()
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst


@contextlib.contextmanager
def _quiet_exporter():
    """The exporter narrates each stage on stdout and warns about internals: keep the
    CLI's output to the result."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield
