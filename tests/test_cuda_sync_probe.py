"""The GPU sync probe counts synchronising calls by the line that made them (CUDA stubbed out here)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]


def test_counts_sync_warnings_by_line_and_restores_the_mode(monkeypatch):
    spec = importlib.util.spec_from_file_location("cuda_sync_probe", ROOT / "benchmarks" / "cuda_sync_probe.py")
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    modes = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda: None)
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)

    def work():
        for _ in range(3):
            warnings.warn("called a synchronizing CUDA operation")  # what torch warns in "warn" mode
        warnings.warn("called a synchronizing CUDA operation")
        warnings.warn("something else")

    sites = probe.sync_sites(work)
    assert modes == ["warn", "default"]
    assert sorted(sites.values()) == [1, 3] and all(path.endswith("test_cuda_sync_probe.py") for path, _ in sites)
