"""The DCGAN step benchmark: both sides build the same networks, and a tiny run prints its table."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import torch
from torch import nn

from musicgan_lib.models.dcgan import DCGANDiscriminator, DCGANGenerator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_dcgan_step", ROOT / "benchmarks" / "bench_dcgan_step.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _layers(model: nn.Module) -> list[tuple[str, tuple[int, ...], bool]]:
    """(layer type, weight shape, has bias) of every conv and norm layer, in order."""
    return [
        (type(m).__name__, tuple(m.weight.shape), m.bias is not None and isinstance(m, nn.Conv2d | nn.ConvTranspose2d))
        for m in model.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.BatchNorm2d)
    ]


@pytest.mark.parametrize("width", [32, 64])
def test_reference_and_core_build_the_same_networks(bench, width):
    assert _layers(bench.RefGenerator(100, width)) == _layers(DCGANGenerator(100, width))
    ref, core = _layers(bench.RefDiscriminator(width)), _layers(DCGANDiscriminator(width))
    # The one difference: the core's discriminator keeps biases on its un-normalised convs (the
    # input layer and the logit), which pytorch/examples leaves out: ndf + 1 numbers.
    assert [(t, s) for t, s, _ in ref] == [(t, s) for t, s, _ in core]
    assert [b for t, _, b in ref if t == "Conv2d"] == [False] * 4
    assert [b for t, _, b in core if t == "Conv2d"] == [True, False, False, True]


def test_tiny_run_prints_both_variants(bench, monkeypatch):
    monkeypatch.setenv("MUSICGAN_BATCH", "1")  # main() would set it for the rest of the session
    out, threads = io.StringIO(), torch.get_num_threads()
    try:
        with redirect_stdout(out):
            rc = bench.main(
                [
                    "--device",
                    "cpu",
                    "--batch",
                    "8",
                    "--steps",
                    "1",
                    "--rounds",
                    "1",
                    "--warmup",
                    "1",
                    "--threads",
                    "1",
                    "--no-amp",
                ]
            )
    finally:
        torch.set_num_threads(threads)
    assert rc == 0
    rows = {line.split("  ")[0]: line for line in out.getvalue().splitlines() if line.startswith(("reference", "core"))}
    assert set(rows) == {
        "reference (eager fp32, NCHW)",
        "core (channels_last, fused Adam)",
        "core (channels_last, fused Adam, fakes reused)",
    }, out.getvalue()
    assert "1.00x" in rows["reference (eager fp32, NCHW)"]  # the reference is the unit
    assert (
        "conv GFLOP/s" in out.getvalue()
        and "conv ceiling, same run (1x1 conv 512 -> 512, batch 8, 32x32): fp32" in out.getvalue()
    )


@pytest.mark.parametrize("kind", ["reference", "core", "core, fakes reused"])
def test_step_macs_are_the_convolutions_a_step_runs(bench, kind, monkeypatch):
    """step_macs' accounting against PyTorch's own count of the convolution ops one step executes."""
    from torch.utils.flop_counter import FlopCounterMode

    from musicgan_lib.data.sprites import make_sprites

    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    data, cpu, batch, width = make_sprites(64, seed=0).images, torch.device("cpu"), 8, 8
    make = {
        "reference": lambda: bench.make_reference(data, cpu, width, batch),
        "core": lambda: bench.make_core(data, cpu, width, batch, False, False),
        "core, fakes reused": lambda: bench.make_core(data, cpu, width, batch, False, False, reuse_fakes=True),
    }[kind]
    with redirect_stdout(io.StringIO()):
        step = make()
        step(1)
        with FlopCounterMode(display=False) as flops:
            step(1)
    counted = flops.get_flop_counts()["Global"]
    assert set(map(str, counted)) == {
        "aten.convolution",
        "aten.convolution_backward",
    }  # nothing but convs does arithmetic here
    assert flops.get_total_flops() == 2 * bench.step_macs(batch, width)[kind]
