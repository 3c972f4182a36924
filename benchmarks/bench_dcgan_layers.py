"""Where a DCGAN step goes: every conv layer of chapter 2's networks, timed op by op.

    .venv/bin/python benchmarks/bench_dcgan_layers.py                # batch 128, ngf = ndf = 32
    .venv/bin/python benchmarks/bench_dcgan_layers.py --threads 1

For each convolution of `DCGANGenerator` and `DCGANDiscriminator` (found with forward hooks, so
the list follows the models), in fp32 and (on CPUs with native bf16) bf16, in NCHW and in
channels_last, three ops are timed on their own: the forward, the input gradient (dX) and the
weight gradient (dW), through `aten.convolution` / `aten.convolution_backward` with an output
mask, i.e. exactly the kernels autograd calls. Each row also gives the layer's multiply-adds and
the forward's throughput, which shows which layers the hardware runs well.

Why it exists: `bench_dcgan_step.py` times whole steps; this says which layers and which halves
of their backward pass make up the difference between the variants (see benchmarks/RESULTS.md).
Like that script, it re-runs itself with glibc's malloc pinned (`--system-malloc` keeps the defaults).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from pinned_malloc import allocator_name, rerun_with_pinned_malloc  # noqa: E402


def conv_layers(batch: int, width: int) -> list[tuple[str, nn.Module, tuple[int, ...]]]:
    """(name, layer, input shape) of every conv in the generator, then the discriminator, at this batch."""
    from musicgan_lib.models.dcgan import DCGANDiscriminator, DCGANGenerator

    found: list[tuple[str, nn.Module, tuple[int, ...]]] = []
    for prefix, model, x in (
        ("G", DCGANGenerator(100, width), torch.zeros(batch, 100)),
        ("D", DCGANDiscriminator(width), torch.zeros(batch, 3, 32, 32)),
    ):
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
        hooks = [m.register_forward_hook(lambda m, args, out: found.append((m, tuple(args[0].shape)))) for m in convs]
        with torch.no_grad():
            model(x)
        for h in hooks:
            h.remove()
        start = len(found) - len(convs)
        found[start:] = [(f"{prefix}{i + 1}", m, shape) for i, (m, shape) in enumerate(found[start:])]
    return found


def _median_ms(fn: Callable[[], object], repeats: int) -> float:
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def time_layer(
    layer: nn.Module, shape: tuple[int, ...], dtype: torch.dtype, channels_last: bool, repeats: int
) -> dict[str, float]:
    """Median ms of the forward, dX and dW of one conv layer at this input shape, dtype and layout."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    transposed = isinstance(layer, nn.ConvTranspose2d)
    x = torch.randn(shape, dtype=dtype).contiguous(memory_format=fmt)
    w = layer.weight.detach().to(dtype).contiguous(memory_format=fmt)
    args = (
        list(layer.stride),
        list(layer.padding),
        [1, 1],
        transposed,
        list(getattr(layer, "output_padding", (0, 0))),
        1,
    )
    y = torch.ops.aten.convolution(x, w, None, *args)
    g = torch.randn_like(y).contiguous(memory_format=fmt)

    def backward(mask: list[bool]) -> Callable[[], object]:
        return lambda: torch.ops.aten.convolution_backward(g, x, w, None, *args, mask)

    return {
        "fwd": _median_ms(lambda: torch.ops.aten.convolution(x, w, None, *args), repeats),
        "dX": _median_ms(backward([True, False, False]), repeats),
        "dW": _median_ms(backward([False, True, False]), repeats),
        "macs": conv_macs(layer, shape),
    }


def conv_macs(layer: nn.Module, shape: tuple[int, ...]) -> int:
    """Multiply-adds of one conv's forward at this input shape (its input and weight gradients cost the same)."""
    with torch.no_grad():
        y = layer(torch.zeros(shape))
    # each output (conv) or input (transposed conv) element meets in_channels * k * k weights: weight[0]
    elements = torch.Size(shape).numel() if isinstance(layer, nn.ConvTranspose2d) else y.numel()
    return elements * layer.weight[0].numel()


def bf16_weight_gradient_ms(batch: int = 128, width: int = 32, repeats: int = 10) -> float:
    """Median ms of the discriminator's second conv's bf16 weight gradient (channels_last).

    A probe of the machine's state: on the development VM it reads about 2.4 ms in the fast state
    and 5.2 ms in the slow one, where every bf16 weight gradient runs at half speed for minutes
    (benchmarks/RESULTS.md); bench_dcgan_step.py prints it before and after its rounds.
    """
    layers = {name: (layer, shape) for name, layer, shape in conv_layers(batch, width)}
    return time_layer(*layers["D2"], torch.bfloat16, channels_last=True, repeats=repeats)["dW"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=32, help="ngf = ndf")
    p.add_argument("--repeats", type=int, default=20, help="timed calls per op (median reported)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: leave the default)")
    p.add_argument("--system-malloc", action="store_true", help="keep glibc's adaptive malloc")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dtypes = [torch.float32] + ([torch.bfloat16] if torch.ops.mkldnn._is_mkldnn_bf16_supported() else [])
    print(
        f"DCGAN conv layers, batch {args.batch}, ngf = ndf = {args.width}, CPU, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"allocator: {allocator_name()}")
    print(
        f"{'layer':5s} {'op':9s} {'input':>17s} {'MMAC':>6s} {'dtype':>5s} {'layout':>6s} {'fwd ms':>7s} {'dX ms':>7s} {'dW ms':>7s} {'fwd GMAC/s':>11s}"
    )
    for name, layer, shape in conv_layers(args.batch, args.width):
        op = f"{'convT' if isinstance(layer, nn.ConvTranspose2d) else 'conv'} {layer.in_channels}>{layer.out_channels}"
        for dtype in dtypes:
            for channels_last in (False, True):
                t = time_layer(layer, shape, dtype, channels_last, args.repeats)
                rate = t["macs"] / t["fwd"] / 1e6 if t["fwd"] > 0 else math.inf
                print(
                    f"{name:5s} {op:9s} {'x'.join(map(str, shape)):>17s} {t['macs'] / 1e6:6.0f} {'bf16' if dtype == torch.bfloat16 else 'fp32':>5s} "
                    f"{'NHWC' if channels_last else 'NCHW':>6s} {t['fwd']:7.2f} {t['dX']:7.2f} {t['dW']:7.2f} {rate:11.0f}"
                )
    print("MMAC: the layer's multiply-adds (millions) in one forward; dX / dW: the two halves of its backward")
    return 0


if __name__ == "__main__":
    rerun_with_pinned_malloc()
    sys.exit(main())
