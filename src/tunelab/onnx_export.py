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

ONNX_FILE = "model.onnx"
SAMPLE_TEXTS = (
    ["a short one", "and a somewhat longer sentence to check padding and length"],
    ["one more text, on its own, with a different length from the others"],
)
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
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
    from tunelab.inference import load

    _require_onnx()
    predictor = load(run_dir)
    model = _exportable(predictor)
    samples = _samples(predictor)
    target = Path(output) if output else Path(run_dir) / "model" / ONNX_FILE

    diffs: list[float] = []

    def write(tmp: Path) -> None:
        _export(model, samples[0], tmp)
        diffs.append(_max_prob_diff(model, tmp, samples))
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


class _TextLogits(torch.nn.Module):
    """Token tensors -> logits: the signature the ONNX graph gets."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        return self.model(input_ids=input_ids, attention_mask=attention_mask, **extra).float()


class _ImageLogits(torch.nn.Module):
    """Normalised pixels -> logits."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).float()


def _exportable(predictor: Any) -> torch.nn.Module:
    """The predictor's model in eval mode on CPU, LoRA merged into the base weights."""
    from tunelab.strategies.lora import merged

    model = predictor.model.cpu().eval()
    model.backbone = merged(model.backbone)
    return model


def _samples(predictor: Any) -> list[dict[str, torch.Tensor]]:
    """Two input batches of different shapes (batch size and, for text, length)."""
    if predictor.task == "image_classification":
        size = predictor.preprocessing.size
        generator = torch.Generator().manual_seed(0)
        return [
            {"pixel_values": torch.randn(n, 3, size, size, generator=generator)} for n in (2, 1)
        ]
    samples = []
    for texts in SAMPLE_TEXTS:
        batch = predictor.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=predictor.max_length,
            return_tensors="pt",
        )
        samples.append({k: batch[k] for k in TEXT_INPUTS if k in batch})
    return samples


def _export(model: torch.nn.Module, sample: dict[str, torch.Tensor], path: Path) -> None:
    names = list(sample)
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
    if names == ["pixel_values"]:
        wrapped, dynamic = _ImageLogits(model), {"pixel_values": {0: batch}}
    else:
        wrapped, dynamic = _TextLogits(model), {name: {0: batch, 1: sequence} for name in names}
    with _quiet_exporter():
        program = torch.onnx.export(
            wrapped.eval(),
            (),
            kwargs=sample,
            dynamo=True,
            input_names=names,
            output_names=["logits"],
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
