"""Device choice and seeding: one place that decides where tensors live and makes CPU runs repeatable."""

from __future__ import annotations

import os
from contextlib import contextmanager
import random

import numpy as np
import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def cpu_has_bf16() -> bool:
    """True on CPUs with native bf16 (AVX512-BF16 / AMX), where bf16 autocast makes steps ~1.5x faster."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bf16_autocast_pays(device: torch.device | str) -> bool:
    """Whether bf16 autocast is worth turning on for `device`: CUDA, or a CPU with native bf16.

    Elsewhere (a CPU without AVX512-BF16 / AMX, MPS) bf16 is emulated and slower than fp32.
    """
    kind = torch.device(device).type
    return kind == "cuda" or (kind == "cpu" and cpu_has_bf16())


def pick_device(requested: str | torch.device = "auto") -> torch.device:
    """Return the device to train on: cuda, then mps, then cpu for "auto"; check explicit requests.

    An explicit device that is not there is an error rather than a silent fallback, so a
    run that was meant for a GPU never quietly takes hours on a CPU.
    """
    if isinstance(requested, torch.device):
        requested = str(requested)
    name = str(requested).strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {requested!r}: use one of {', '.join(DEVICE_CHOICES)} (e.g. DEVICE='auto')")
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "DEVICE='cuda' was asked for but PyTorch sees no CUDA GPU here; "
            "use DEVICE='auto' (picks cuda, then mps, then cpu) or DEVICE='cpu'"
        )
    if kind == "mps" and not _mps_available():
        raise RuntimeError(
            "DEVICE='mps' was asked for but Apple's Metal backend is not available; use DEVICE='auto' or DEVICE='cpu'"
        )
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a fresh CPU generator for data.

    Training code draws its noise and data indices from the returned generator so that a
    checkpoint can store and restore the exact random stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"SEED must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    return torch.Generator().manual_seed(seed)


def is_batch_run() -> bool:
    """True under the course runner, nbval or CI: progress bars become a few plain lines."""
    return any(os.environ.get(k) for k in ("MUSICGAN_BATCH", "CI"))


@contextmanager
def torch_threads(n: int):
    """Run a block with n intra-op threads, then restore the previous setting.

    Tiny models (the 2-D toy MLPs) are dominated by per-op overhead; extra threads only add
    synchronisation, and on a busy 2-core laptop they can make a step ten times slower.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
