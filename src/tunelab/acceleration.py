"""Device-dependent speed switches: bf16 autocast where it is native, and torch.compile.

Both are config switches (``train.mixed_precision``, ``train.compile``). ``auto`` turns
bf16 on only where the hardware computes it natively: on a CPU without AVX512-BF16/AMX,
autocast to bf16 emulates every matmul and is slower than fp32 (measured by
``make bench``'s notes), so it stays off there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from tunelab.errors import ConfigError


def native_bf16(device: str) -> bool:
    """Whether ``device`` ("cpu", "cuda", "mps", "auto") runs bf16 matmuls natively."""
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    if device in ("auto", "cpu"):
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def resolve_mixed_precision(setting: str, device: str) -> str:
    """``train.mixed_precision`` as accelerate takes it: ``auto`` becomes bf16 or no."""
    if setting != "auto":
        return setting
    return "bf16" if native_bf16(device) else "no"


def check_mixed_precision(setting: str, device: str) -> None:
    """Refuse a precision the device cannot run: fp16 autocast and its loss scaler need
    a GPU, and on a CPU accelerate would silently train in fp32 instead."""
    if setting == "fp16" and runs_on_cpu(device):
        instead = "bf16 (native on this CPU) or no" if native_bf16("cpu") else "no"
        raise ConfigError(
            f"train.mixed_precision=fp16 needs a GPU, but this run is on the CPU (where "
            f"it would silently run in fp32); use {instead}"
        )


def runs_on_cpu(device: str) -> bool:
    """Whether ``train.device`` puts the run on the CPU (``auto`` without a GPU)."""
    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    return device == "cpu" or (device == "auto" and not gpu)


def build_accelerator(device: str, mixed_precision: str, grad_accum_steps: int):
    """An ``Accelerator`` for one run. accelerate keeps one precision per process and
    refuses another; a run after a run (compare, search, a notebook) may ask for one, so
    the per-run part of its state is cleared first (the process group is kept)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=False)
    return Accelerator(
        cpu=device == "cpu",
        mixed_precision=resolve_mixed_precision(mixed_precision, device),
        gradient_accumulation_steps=grad_accum_steps,
    )


def precision_used(accelerator, model: nn.Module, setting: str) -> dict[str, str]:
    """What the run computes in, as recorded in ``metrics.json``: the autocast dtype
    (or the weights' own when there is none), the weights' dtype, and the setting."""
    dtype = next((p.dtype for p in model.parameters() if p.requires_grad), torch.float32)
    weights = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(
        dtype, str(dtype).removeprefix("torch.")
    )
    autocast = accelerator.mixed_precision if accelerator.native_amp else None
    return {"compute": autocast or weights, "weights": weights, "requested": setting}


def compile_in_place(model: nn.Module) -> nn.Module:
    """``torch.compile`` the model's forward, keeping the module (and state-dict names).

    ``dynamic=True`` because dynamic padding gives every batch its own length; one
    compiled graph serves them all instead of a recompile per length.
    """
    model.compile(dynamic=True)
    return model


@contextlib.contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run the block with ``threads`` intra-op threads (None: leave as is), then restore."""
    before = torch.get_num_threads()
    if threads is not None and threads != before:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def cache_accelerate_package_checks() -> None:
    """Make accelerate's per-step ``is_lomo_available()`` a cached answer.

    ``AcceleratedOptimizer.step`` asks twice per step whether ``lomo_optim`` is installed,
    each time through ``importlib.util.find_spec`` (file-system lookups, ~0.3 ms). A
    process cannot gain that package mid-run, so the first answer is kept.
    """
    import functools

    from accelerate import optimizer

    check = optimizer.is_lomo_available
    if not hasattr(check, "cache_info"):
        optimizer.is_lomo_available = functools.cache(check)


def check_device(device: str) -> None:
    """An explicit accelerator that is not there is a config error, not a silent CPU run."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("train.device=cuda but no CUDA GPU is visible; use auto or cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device=mps but MPS is not available; use auto or cpu")
