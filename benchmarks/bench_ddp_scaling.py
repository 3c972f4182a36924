"""Data-parallel scaling of chapter 2's DCGAN on this machine: sprites/s with 1 and with N processes.

    python benchmarks/bench_ddp_scaling.py [--nproc 2] [--steps 60] [--batch 128] [--rounds 2]

Each variant is a fresh `musicgan train dcgan` run (torchrun for N > 1) into a temporary folder,
the variants taking turns for `--rounds` rounds; the figure is the global batch times steps over
the training loop's own seconds (start-up and evaluation excluded), best of the rounds. Threads:
each rank gets cores / N, so both variants use the whole machine. Prints the ratio N / 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def sprites_per_second(nproc: int, steps: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        args = ["dcgan", "--steps", str(steps), "--batch", str(batch), "--out", str(out), "--eval-samples", "200"]
        args += ["--checkpoint-every", str(10 * steps)]
        command = [sys.executable, "-m", "musicgan_lib.cli", "train", "--nproc", str(nproc), *args]
        env = {**os.environ, "MUSICGAN_BATCH": "1", "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // nproc))}
        subprocess.run(command, check=True, env=env, capture_output=True)
        metrics = json.loads((out / "metrics.json").read_text())
    return steps * batch / metrics["train_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    a = parser.parse_args()
    best = {1: 0.0, a.nproc: 0.0}
    for _ in range(a.rounds):
        for n in best:
            best[n] = max(best[n], sprites_per_second(n, a.steps, a.batch))
    print(f"cores {os.cpu_count()}, global batch {a.batch}, {a.steps} steps, best of {a.rounds}")
    for n, rate in best.items():
        print(f"{n} process(es): {rate:8.0f} sprites/s")
    print(f"ratio {a.nproc} / 1 processes: {best[a.nproc] / best[1]:.2f}x")


if __name__ == "__main__":
    main()
