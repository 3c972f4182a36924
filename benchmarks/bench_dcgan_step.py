"""One DCGAN training step: this project's training core vs a plain eager loop, side by side.

    .venv/bin/python benchmarks/bench_dcgan_step.py                  # CPU (or the GPU if there is one)
    .venv/bin/python benchmarks/bench_dcgan_step.py --compile        # also torch.compile'd modules
    .venv/bin/python benchmarks/bench_dcgan_step.py --device cuda    # GPU: bf16 autocast (+ --compile)
    .venv/bin/python benchmarks/bench_dcgan_step.py --explain        # also the reference in channels_last

What is timed: one full G+D step at batch 128, 32x32 RGB, ngf = ndf = 32 (`--width`), the same
DCGAN architecture on both sides:
* reference: written like pytorch/examples' dcgan/main.py: NCHW tensors, a Sigmoid at the end of
  D and nn.BCELoss, default Adam(lr 2e-4, betas (0.5, 0.999)), `netD.zero_grad()`, a D step on
  real then on `fake.detach()`, a G step through D(fake) (D's weight gradients computed and
  thrown away), `.item()` on the logged values every step, fp32 (cudnn.benchmark on a GPU);
* core: `musicgan_lib.train.GANTrainer` with `models.dcgan` networks as chapter 2 trains them:
  channels_last memory format, fused Adam, logits + softplus losses, D frozen during the G step
  (no wasted weight gradients), losses kept on the device between log flushes; on a GPU bf16
  autocast. `--compile` adds a variant with torch.compile'd G and D.
* core, fakes reused: the same with `GANTrainer(reuse_fakes=True)`: the G step judges the D step's
  fakes as the reference does, one G forward per step instead of two (by default the core draws
  fresh latents for the G step; every chapter's runs and shipped weights were trained that way);
* `--explain` adds the reference with its tensors in channels_last (the layout alone).
Both sides draw their batch from the same in-memory sprite tensor.

Timing: every variant is built, warmed up (`--warmup` steps; compilation happens there and is
reported separately), then the variants take turns for `--rounds` rounds of `--steps` steps, so
a busy machine slows them alike. Reported: median ms per step over rounds, images/s
(batch / step time) and each variant's speed-up over the reference, in wall-clock time and in
process CPU time (on a shared machine, CPU time is what a step costs on a core of its own).

Allocator: on Linux the script re-runs itself with glibc's malloc pinned (`pinned_malloc.py`: freed
blocks stay in the heap instead of going back to the kernel). By default glibc hands large
buffers back and page-faults them in again on the next step, and how often it does depends on
its adaptive thresholds, i.e. on what the process allocated before (how many variants were built,
in which order). That moved the reference by 20 % between runs and the ratios with it; pinned,
every variant runs at the speed it has without that churn. `--system-malloc` keeps glibc's defaults.

Machine state: on CPUs with native bf16 the script times one bf16 weight gradient before and after
the variants (`bench_dcgan_layers.bf16_weight_gradient_ms`). The development VM sometimes runs
every bf16 weight gradient at half speed for minutes, which takes the bf16 variants from about
1.5x to 1.25x; the probe says which state a run was in.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from pinned_malloc import allocator_name, rerun_with_pinned_malloc  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------
# The reference, as pytorch/examples writes it (dcgan/main.py), sized for 32x32.
class RefGenerator(nn.Module):
    def __init__(self, nz: int, ngf: int, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
        )  # fmt: skip

    def forward(self, x):
        return self.main(x)


class RefDiscriminator(nn.Module):
    def __init__(self, ndf: int, nc: int = 3) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )  # fmt: skip

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def make_reference(
    data: torch.Tensor, device: torch.device, width: int, batch: int, nz: int = 100, channels_last: bool = False
):
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    netG = RefGenerator(nz, width).to(device, memory_format=fmt)
    netG.apply(weights_init)
    netD = RefDiscriminator(width).to(device, memory_format=fmt)
    netD.apply(weights_init)
    data = data.contiguous(memory_format=fmt)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    real_label, fake_label = 1.0, 0.0

    def step() -> None:
        idx = torch.randint(data.shape[0], (batch,), generator=gen)
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real_cpu = data[idx.to(data.device)]
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        _ = (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)

    def run(n: int) -> None:
        for _ in range(n):
            step()

    return run


# ---------------------------------------------------------------------------------------------
# How much arithmetic a step is, and how fast this machine can do arithmetic at all.
def step_macs(batch: int, width: int) -> dict[str, int]:
    """Multiply-adds of the convolutions in one step, for the reference, the core (fresh latents for
    the G step) and the core with fakes reused. Convolutions are about 80 % of a CPU step's time.

    A conv's forward, input gradient (dX) and weight gradient (dW) each cost its forward's
    multiply-adds. Every variant: D forward on real, on fake (D step) and on fake again (G step);
    dX through D below its first layer in both D-step passes (D1's input needs none) and all the
    way down in the G step; D's dW in both D-step passes; G's dW, and dX above G1 (its input is
    the latent). The reference also computes D's dW in the G step and throws it away; the core
    skips that, but by default runs G forward twice (once without gradients for the D step).
    """
    from bench_dcgan_layers import conv_layers, conv_macs

    macs = {name: conv_macs(layer, shape) for name, layer, shape in conv_layers(batch, width)}
    g = sum(v for k, v in macs.items() if k.startswith("G"))
    d = sum(v for k, v in macs.items() if k.startswith("D"))
    common = 3 * d + 2 * (d - macs["D1"]) + d + 2 * d + g + (g - macs["G1"])  # D fwd, D dX, D dW (D step), G dW, G dX
    return {"reference": common + d + g, "core": common + 2 * g, "core, fakes reused": common + g}


def ceiling_gflops(dtype: torch.dtype, device: torch.device, repeats: int = 5) -> float:
    """Median GFLOP/s of a large GEMM-shaped convolution (1x1, 512 -> 512 channels, batch 8 at 32x32,
    channels_last): what the step's own conv library reaches on its best shape, the ceiling its
    convolutions run against. (Not torch.matmul: on the development CPU fp32 matmul goes through
    MKL at about half of what oneDNN's fp32 convolutions reach.)"""
    fmt = torch.channels_last
    x = torch.randn(8, 512, 32, 32, device=device).to(dtype).contiguous(memory_format=fmt)
    w = torch.randn(512, 512, 1, 1, device=device).to(dtype).contiguous(memory_format=fmt)
    torch.nn.functional.conv2d(x, w)
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        torch.nn.functional.conv2d(x, w)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return 2 * x.numel() * 512 / statistics.median(times) / 1e9


def _macs_kind(variant: str) -> str:
    return (
        "reference"
        if variant.startswith("reference")
        else "core, fakes reused"
        if "fakes reused" in variant
        else "core"
    )


# ---------------------------------------------------------------------------------------------
# This project's core.
def make_core(
    data: torch.Tensor,
    device: torch.device,
    width: int,
    batch: int,
    compile_: bool,
    amp: bool,
    mode: str | None = None,
    reuse_fakes: bool = False,
):
    from musicgan_lib.data.sprites import tensor_sampler
    from musicgan_lib.losses import NonSaturatingLoss
    from musicgan_lib.models.dcgan import DCGANDiscriminator, DCGANGenerator, dcgan_optimizers
    from musicgan_lib.train import GANTrainer, latent_sampler

    g = DCGANGenerator(100, width).to(device, memory_format=torch.channels_last)
    d = DCGANDiscriminator(width).to(device, memory_format=torch.channels_last)
    g_opt, d_opt = dcgan_optimizers(g, d)
    if compile_:
        g, d = torch.compile(g, mode=mode), torch.compile(d, mode=mode)
    images = data.contiguous(memory_format=torch.channels_last)
    trainer = GANTrainer(
        g, d, NonSaturatingLoss(), g_opt, d_opt, tensor_sampler(images), latent_sampler(100),
        batch_size=batch, rng=torch.Generator().manual_seed(0), device=device, autocast=amp, description="bench",
        reuse_fakes=reuse_fakes,
    )  # fmt: skip

    def run(n: int) -> None:
        trainer.loop.run(trainer.step + n)

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--width", type=int, default=32, help="ngf = ndf")
    p.add_argument("--steps", type=int, default=5, help="steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads on CPU (0: leave the default)")
    p.add_argument("--compile", action="store_true", help="add a variant with torch.compile'd G and D")
    p.add_argument(
        "--compile-mode", default=None, help="torch.compile mode, e.g. reduce-overhead (CUDA graphs) or max-autotune"
    )
    p.add_argument("--no-amp", action="store_true", help="no bf16 autocast variant (GPU: core in fp32)")
    p.add_argument("--system-malloc", action="store_true", help="keep glibc's adaptive malloc (see the docstring)")
    p.add_argument(
        "--explain", action="store_true", help="add the reference with its tensors in channels_last (the layout alone)"
    )
    args = p.parse_args(argv)

    os.environ.setdefault("MUSICGAN_BATCH", "1")  # the core's progress bar stays quiet
    from musicgan_lib.data.sprites import make_sprites
    from musicgan_lib.device import pick_device

    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    data = make_sprites(4096, seed=0).images.to(device)
    amp = device.type == "cuda" and not args.no_amp
    cpu_bf16 = device.type == "cpu" and torch.ops.mkldnn._is_mkldnn_bf16_supported() and not args.no_amp

    variants = {"reference (eager fp32, NCHW)": lambda: make_reference(data, device, args.width, args.batch)}
    core_name = "core (channels_last, fused Adam" + (", bf16)" if amp else ")")
    variants[core_name] = lambda: make_core(data, device, args.width, args.batch, False, amp)
    variants[core_name[:-1] + ", fakes reused)"] = lambda: make_core(
        data, device, args.width, args.batch, False, amp, reuse_fakes=True
    )
    if args.explain:
        variants["reference in channels_last"] = lambda: make_reference(
            data, device, args.width, args.batch, channels_last=True
        )
    if args.compile:
        variants[core_name[:-1] + ", compiled)"] = lambda: make_core(
            data, device, args.width, args.batch, True, amp, args.compile_mode
        )
    if cpu_bf16:  # CPUs with native bf16 (AVX512-BF16 / AMX): autocast pays there too
        variants["core (channels_last, fused Adam, bf16)"] = lambda: make_core(
            data, device, args.width, args.batch, False, True
        )
        variants["core (channels_last, fused Adam, bf16, fakes reused)"] = lambda: make_core(
            data, device, args.width, args.batch, False, True, reuse_fakes=True
        )
        if args.compile:
            variants["core (channels_last, fused Adam, bf16, compiled)"] = lambda: make_core(
                data, device, args.width, args.batch, True, True, args.compile_mode
            )

    import io
    from contextlib import redirect_stdout

    from bench_dcgan_layers import bf16_weight_gradient_ms

    probe = [bf16_weight_gradient_ms(args.batch, args.width)] if cpu_bf16 else []

    steps, setup = {}, {}
    for name, make in variants.items():
        t0 = time.perf_counter()
        with redirect_stdout(io.StringIO()):  # the core prints progress lines in batch mode
            fn = make()
            fn(args.warmup)
        _sync(device)
        steps[name], setup[name] = fn, time.perf_counter() - t0
    times: dict[str, list[float]] = {k: [] for k in steps}
    cpu: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.rounds):
        for name, fn in steps.items():
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            with redirect_stdout(io.StringIO()):
                fn(args.steps)
            _sync(device)
            times[name].append((time.perf_counter() - t0) / args.steps)
            cpu[name].append((time.process_time() - c0) / args.steps)

    if cpu_bf16:
        probe.append(bf16_weight_gradient_ms(args.batch, args.width))
    work = step_macs(args.batch, args.width)
    ceilings = {label: ceiling_gflops(dtype, device) for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))
                if dtype == torch.float32 or cpu_bf16 or amp}  # fmt: skip
    ref = statistics.median(next(iter(times.values())))
    ref_cpu = statistics.median(next(iter(cpu.values())))
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"DCGAN step, batch {args.batch}, 32x32, ngf = ndf = {args.width}, on {where}, torch {torch.__version__}")
    print(
        f"machine load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; allocator: {allocator_name()}"
    )
    if probe:
        print(
            f"bf16 weight-gradient probe (D2's dW, bench_dcgan_layers.py): {probe[0]:.2f} ms before the variants, {probe[1]:.2f} ms after "
            "(development VM: about 2.4 ms in its fast state, 5.2 ms in its slow one; see benchmarks/RESULTS.md)"
        )
    print(
        f"{'variant':54s} {'ms/step':>9s} {'best':>8s} {'images/s':>9s} {'speed-up':>9s} {'CPU ms':>8s} {'CPU x':>7s} {'warm-up s':>10s} {'conv GFLOP/s':>13s}"
    )
    for name, ts in times.items():
        med, c = statistics.median(ts), statistics.median(cpu[name])
        print(
            f"{name:54s} {1000 * med:9.1f} {1000 * min(ts):8.1f} {args.batch / med:9.0f} {ref / med:8.2f}x "
            f"{1000 * c:8.1f} {ref_cpu / c:6.2f}x {setup[name]:10.1f} {2 * work[_macs_kind(name)] / med / 1e9:13.0f}"
        )
    print("ms/step, images/s: wall clock (median over rounds); CPU ms: process CPU time per step (all threads);")
    print("speed-up and CPU x: the reference's median over the variant's (wall clock / CPU time);")
    print(
        "conv GFLOP/s: the step's convolution arithmetic (step_macs: "
        + ", ".join(f"{k} {2 * v / 1e9:.2f}" for k, v in work.items())
        + " GFLOP) over its median time"
    )
    print(
        "conv ceiling, same run (1x1 conv 512 -> 512, batch 8, 32x32): "
        + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in ceilings.items())
    )
    return 0


if __name__ == "__main__":
    rerun_with_pinned_malloc()
    sys.exit(main())
