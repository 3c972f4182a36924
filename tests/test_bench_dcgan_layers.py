"""The per-layer DCGAN benchmark: it finds every conv of both networks and counts their work right."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_dcgan_layers", ROOT / "benchmarks" / "bench_dcgan_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the script puts benchmarks/ on sys.path for pinned_malloc
    return module


def test_finds_every_conv_with_its_input_shape(bench):
    layers = bench.conv_layers(batch=2, width=32)
    assert [name for name, _, _ in layers] == ["G1", "G2", "G3", "G4", "D1", "D2", "D3", "D4"]
    shapes = {name: shape for name, _, shape in layers}
    assert shapes["G1"] == (2, 100, 1, 1) and shapes["G4"] == (2, 32, 16, 16)
    assert shapes["D1"] == (2, 3, 32, 32) and shapes["D4"] == (2, 128, 4, 4)


def test_multiply_adds_of_a_conv_and_a_transposed_conv(bench):
    layers = {name: (layer, shape) for name, layer, shape in bench.conv_layers(batch=2, width=32)}
    # D2: conv 32 -> 64, 4x4 kernel, 16x16 -> 8x8: every output element meets 32 * 16 weights
    d2 = bench.time_layer(*layers["D2"], torch.float32, channels_last=False, repeats=1)
    assert d2["macs"] == 2 * 64 * 8 * 8 * 32 * 16
    # G4: transposed conv 32 -> 3, 16x16 -> 32x32: every input element meets 3 * 16 weights
    g4 = bench.time_layer(*layers["G4"], torch.float32, channels_last=True, repeats=1)
    assert g4["macs"] == 2 * 32 * 16 * 16 * 3 * 16
    assert all(g4[k] > 0 for k in ("fwd", "dX", "dW"))


def test_tiny_run_prints_a_row_per_layer_dtype_and_layout(bench):
    out, threads = io.StringIO(), torch.get_num_threads()
    try:
        with redirect_stdout(out):
            rc = bench.main(["--batch", "2", "--repeats", "1", "--threads", "1"])
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    rows = [line for line in out.getvalue().splitlines() if line[:1] in "GD" and line[1:2].isdigit()]
    dtypes = 2 if torch.ops.mkldnn._is_mkldnn_bf16_supported() else 1
    assert len(rows) == 8 * dtypes * 2, out.getvalue()


def test_bf16_weight_gradient_probe_times_one_op(bench):
    ms = bench.bf16_weight_gradient_ms(batch=2, repeats=1)
    assert isinstance(ms, float) and 0 < ms < 10_000
