"""Which lines of a training step make the host wait for the GPU (CUDA only).

    python3 benchmarks/cuda_sync_probe.py            # chapter 2's DCGAN step, plain and the remedy (EMA)

A GPU runs ahead of Python only while nothing asks it for a result: `.item()`, `float(t)`,
`if tensor:`, a blocking host-to-device copy. Each such call drains the queue and, for a small
network, can cost as much as the step's kernels. This runs a few steps of `GANTrainer` under
`torch.cuda.set_sync_debug_mode("warn")` and prints every line that synchronised, with how often
per step. The loop's own log flush (every `sync_every` = 25 steps on a GPU) is expected there.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402


def sync_sites(work) -> collections.Counter:
    """Run work() once with CUDA sync debugging on; count the warnings by (file, line)."""
    sites: collections.Counter = collections.Counter()
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            work()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    for w in caught:
        if "synchronizing CUDA operation" in str(w.message):  # c10::cuda::warn_or_error_on_sync
            sites[(os.path.relpath(w.filename), w.lineno)] += 1
    return sites


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=50)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("cuda_sync_probe: needs a CUDA GPU (none here)")
        return 2
    os.environ.setdefault("MUSICGAN_BATCH", "1")
    from musicgan_lib.recipes import dcgan_pixels as ch2

    warmup = 5
    # no attribute checks, and GIF frames only at the first and last step: both read samples back on purpose
    config = ch2.with_steps(ch2.DCGANConfig.for_profile("quick"), track_every=0, frames=2)
    print(
        f"{torch.cuda.get_device_name()}, torch {torch.__version__}; {args.steps} training steps per recipe after {warmup} warm-up steps"
    )
    for recipe in (ch2.PLAIN, ch2.REMEDY):
        run = ch2.make_run(recipe, config, device="cuda", total_steps=warmup + args.steps + 1)
        run.train(warmup)
        sites = sync_sites(lambda run=run: run.train(warmup + args.steps))
        print(f"\n{recipe}: {sum(sites.values())} synchronising calls in {args.steps} steps")
        for (path, line), count in sites.most_common():
            print(f"  {count / args.steps:6.2f} per step  {path}:{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
