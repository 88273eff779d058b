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
