"""Reference vs fused harmonic synth, forward + backward, side by side in one run.

    .venv/bin/python benchmarks/bench_harmonic_synth.py            # 16 notes x 4 s x 100 harmonics @ 16 kHz
    .venv/bin/python benchmarks/bench_harmonic_synth.py --small    # quick check (4 x 0.5 s x 32)

What is measured, per variant: one forward + backward of ``harmonic_synth`` with gradients
w.r.t. f0, amplitudes and the harmonic distribution (a training step's synth cost), inputs at
audio rate. Time = median (and best) wall-clock of ``--repeats`` runs after one warm-up run;
"CPU s" is the process CPU time of the median run (all threads), which on a shared machine
shows how much of the wall time was spent waiting for a core. Real-time factor (RTF) =
audio seconds in the batch (batch x seconds) / wall seconds; speedup = reference median /
variant median.

Threads: on a CPU shared with other busy processes, PyTorch's two OpenMP threads spin at
barriers waiting for a descheduled partner, and the lean path (many cache-sized ops) slows
down by 10x or more; ``--threads 1`` gives stable numbers there.

Memory:
* CPU: every variant runs in its own fresh subprocess, with ``MALLOC_MMAP_THRESHOLD_=65536``
  so that freed blocks go straight back to the OS and RSS tracks live memory. After the
  inputs exist and one warm-up step has run (one-time lazy initialisation is not counted),
  the worker resets the kernel's RSS high-water mark (``/proc/self/clear_refs``) and notes
  its resident set size (VmRSS); the timed steps then run and the high-water mark (VmHWM,
  what ``ru_maxrss`` reports) minus that baseline is the "peak" column.
  It counts everything the step allocates, including the returned gradients; the gradient
  w.r.t. the [B, T, H] distribution alone is B*T*H*4 bytes and is printed as a floor. The
  inputs (mainly the [B, T, H] distribution) are not counted and are printed separately.
* CUDA: ``torch.cuda.max_memory_allocated()`` over the timed steps minus the allocation
  before them (peak stats reset after the warm-up).

Two pitch settings: "low" (f0 40-78 Hz: all 100 harmonics below Nyquist, so nothing can be
skipped: the worst case for the fused paths) and "musical" (MIDI 36-84, 65-1047 Hz, with
vibrato: most high harmonics are above Nyquist and the lean path skips them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _make_inputs(batch: int, seconds: float, harmonics: int, sr: int, pitch: str, device: str, seed: int = 0):
    import torch

    g = torch.Generator().manual_seed(seed)
    T = int(round(seconds * sr))
    if pitch == "low":
        base = 40.0 + 38.0 * torch.rand(batch, 1, generator=g)
    else:
        midi = torch.randint(36, 85, (batch, 1), generator=g).float()
        base = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    t = torch.arange(T) / sr
    vibrato = 1.0 + 0.01 * torch.sin(2 * math.pi * 5.0 * t)[None, :]
    f0 = (base * vibrato).to(device)
    amp = (0.5 * torch.rand(batch, 1, generator=g) * torch.exp(-t)[None, :]).to(device)
    # Built in place so creating it leaves no larger temporary behind (the RSS baseline).
    dist = torch.rand(batch, T, harmonics, generator=g).to(device)
    dist.div_(dist.sum(-1, keepdim=True))
    return f0.requires_grad_(), amp.requires_grad_(), dist.requires_grad_()


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes() -> int:
    hwm = _status_bytes("VmHWM")
    if hwm:
        return hwm
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


def worker(args) -> dict:
    """One variant in this process: returns timings and memory as a dict."""
    import torch

    from musicgan_lib.kernels.harmonic_synth import harmonic_synth

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device
    f0, amp, dist = _make_inputs(args.batch, args.seconds, args.harmonics, args.sr, args.pitch, device)
    grad_out = torch.ones(f0.shape, device=device)

    def step():
        for x in (f0, amp, dist):
            x.grad = None
        out = harmonic_synth(f0, amp, dist, args.sr, backend=args.variant)
        out.backward(grad_out)
        if device == "cuda":
            torch.cuda.synchronize()

    res = {"variant": args.variant, "pitch": args.pitch, "device": device, "threads": torch.get_num_threads()}
    input_bytes = sum(x.numel() * x.element_size() for x in (f0, amp, dist))
    res["input_mb"] = input_bytes / 2**20
    # Warm-up at full size: one-time lazy initialisation (BLAS buffers, autograd engine,
    # ~40 MB of RSS on CPU) is then not charged to the measured steps.
    t0 = time.perf_counter()
    step()
    res["first_s"] = time.perf_counter() - t0
    for x in (f0, amp, dist):
        x.grad = None
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        res["peak_reset"] = _reset_peak_rss()
        base = _status_bytes("VmRSS")
    times, cpu_times = [], []
    for _ in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    if device == "cuda":
        res["peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        res["peak_mb"] = max(0, _peak_rss_bytes() - base) / 2**20
    res["median_s"] = statistics.median(times)
    res["best_s"] = min(times)
    res["cpu_s"] = statistics.median(cpu_times)
    return res


def _run_variant(args, variant: str, pitch: str) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--variant",
        variant,
        "--pitch",
        pitch,
        "--batch",
        str(args.batch),
        "--seconds",
        str(args.seconds),
        "--harmonics",
        str(args.harmonics),
        "--sr",
        str(args.sr),
        "--repeats",
        str(args.repeats),
        "--device",
        args.device,
        "--threads",
        str(args.threads),
    ]
    # A fixed mmap threshold makes glibc return every freed block above 64 KB to the OS at
    # once, so RSS follows live memory instead of whatever malloc chose to keep cached.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", action="store_true", help="4 notes x 0.5 s x 32 harmonics: a quick check")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--harmonics", type=int, default=100)
    p.add_argument("--sr", type=int, default=16000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--pitch", default="both", choices=["both", "low", "musical"])
    p.add_argument("--threads", type=int, default=0, help="torch threads in the workers (0: torch's default)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--variant", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.small:
        args.batch, args.seconds, args.harmonics = 4, 0.5, 32
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"

    if args.worker:
        print(json.dumps(worker(args)))
        return

    fused = "triton" if args.device == "cuda" else "cpu"
    variants = ["reference", fused]
    if args.device == "cuda":
        variants.append("cpu")  # the lean pure-torch path also runs on CUDA, for comparison
    pitches = ["low", "musical"] if args.pitch == "both" else [args.pitch]
    audio_s = args.batch * args.seconds
    n = args.batch * int(round(args.seconds * args.sr)) * args.harmonics
    print(
        f"harmonic synth fwd+bwd: {args.batch} notes x {args.seconds:g} s x {args.harmonics} harmonics "
        f"@ {args.sr} Hz on {args.device} ({audio_s:g} s of audio, {n / 1e6:.1f} M sample-harmonics), "
        f"{args.repeats} timed runs after 1 warm-up; os.cpu_count()={os.cpu_count()}"
    )
    grad_floor = n * 4 / 2**20
    print(f"floor on any implementation's peak: the [B,T,H] dist gradient, {grad_floor:.0f} MB")
    for pitch in pitches:
        results = {v: _run_variant(args, v, pitch) for v in variants}
        ref = results["reference"]
        print(f"\npitch={pitch}  (inputs {ref['input_mb']:.0f} MB, not counted; torch threads {ref['threads']})")
        print(
            f"{'variant':10s} {'median s':>9s} {'best s':>8s} {'CPU s':>7s} {'RTF':>8s} {'RTF best':>9s} "
            f"{'speedup':>8s} {'peak MB':>9s} {'mem ratio':>9s}"
        )
        for v in variants:
            r = results[v]
            rtf = audio_s / r["median_s"]
            speed = ref["median_s"] / r["median_s"]
            mem = r["peak_mb"] / ref["peak_mb"] if ref["peak_mb"] > 0 else float("nan")
            print(
                f"{v:10s} {r['median_s']:9.3f} {r['best_s']:8.3f} {r['cpu_s']:7.3f} {rtf:7.1f}x "
                f"{audio_s / r['best_s']:8.1f}x {speed:7.2f}x {r['peak_mb']:9.0f} {mem:9.3f}"
            )
        f = results[fused]
        print(
            f"=> {fused} vs reference: {ref['median_s'] / f['median_s']:.2f}x faster, "
            f"{audio_s / f['median_s']:.1f}x real time, peak memory {f['peak_mb']:.0f} MB vs {ref['peak_mb']:.0f} MB "
            f"({f['peak_mb'] / ref['peak_mb']:.3f} of the reference)"
        )


if __name__ == "__main__":
    main()
