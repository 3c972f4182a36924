"""How fast the procedural sprite generator draws, against chapter 2's target of >= 10,000 sprites/s.

    .venv/bin/python benchmarks/bench_sprites.py              # batches of 128 and 10,000, 1 and 2 threads
    .venv/bin/python benchmarks/bench_sprites.py --threads 1

What is timed: `data.sprites.make_sprites(n, seed)`, labels and images together, after one warm-up
call (the first call in a process builds the sprite templates; its time is reported separately).
Each configuration runs `--repeats` times; the table gives the median sprites/s and its ratio to
the target. Batches of 128 are what a training step draws; 10,000 is a dataset.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

TARGET = 10_000  # sprites per second (issue: chapter 2's data)


def time_make_sprites(n: int, repeats: int) -> list[float]:
    """Seconds per call of make_sprites(n), one per repeat (fresh seeds, so nothing is cached)."""
    from musicgan_lib.data.sprites import make_sprites

    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        make_sprites(n, seed=seed)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="128,10000", help="comma-separated batch sizes")
    p.add_argument("--threads", default="1,2", help="comma-separated torch thread counts")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    time_make_sprites(1, 1)
    first = time.perf_counter() - t0
    print(f"make_sprites on the CPU, torch {torch.__version__}; first call (templates): {first:.2f} s")
    print(f"{'threads':>7s} {'batch':>7s} {'ms/call':>9s} {'sprites/s':>10s} {'vs target':>10s}")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for n in (int(s) for s in args.sizes.split(",")):
            med = statistics.median(time_make_sprites(n, args.repeats))
            print(f"{threads:7d} {n:7d} {1000 * med:9.2f} {n / med:10.0f} {n / med / TARGET:9.1f}x")
    print(f"target: >= {TARGET:,} sprites/s on the CPU; median of {args.repeats} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
