"""Train chapter 3's shipped runs: WGAN with weight clipping, WGAN-GP, and the chapter-2 DCGAN,
each for the same training-time budget, and write them to assets/wgan_<method>_<profile>.safetensors.

    .venv/bin/python scripts/make_wgan_weights.py                     # quick profile, all three, one after another
    .venv/bin/python scripts/make_wgan_weights.py --parallel          # one process per method
    .venv/bin/python scripts/make_wgan_weights.py --methods gp --budget 600

Each file holds the generator and critic (fp16) plus, in its metadata, everything the notebook
plots without retraining: the per-step critic estimate and training time, the FD / coverage /
critic estimate at each checkpoint, the gradient-norm probes, and the final N = 2,000 evaluation.
The budget is measured with the config's clock ("process": CPU seconds of a one-thread
process, so a busy machine does not shorten anyone's budget); evaluation time is excluded.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train_one(
    method: str, profile: str, budget: float | None, threads: int, seed: int, out_dir: str | None, snapshots: str | None
) -> str:
    import torch

    torch.set_num_threads(threads)
    from musicgan_lib.metrics.wgan_curves import curve_evaluator
    from musicgan_lib.recipes import dcgan_pixels, wgan

    config = wgan.WGANConfig.for_profile(profile)
    score, floor = curve_evaluator(config.curve_n)
    start = time.perf_counter()
    snap_dir = Path(snapshots) if snapshots else None

    def snapshot(run: "wgan.WGANRun") -> None:
        # every checkpoint's networks + curves so far: `--promote K` can ship all methods at checkpoint K
        # (checkpoints are fractions of the budget, so the same K is the same training time for each)
        if snap_dir is not None:
            run.fd_floor_curve = floor
            wgan.save_run(
                run,
                snap_dir / f"wgan_{method}_{profile}_{len(run.curve):02d}.safetensors",
                extra_meta={"torch_threads": threads, "seed": seed, "budget_seconds": budget or config.budget_seconds},
            )

    run = wgan.train_for_budget(
        method, config, seed=seed, budget_seconds=budget, on_checkpoint=snapshot,
        log=lambda s: print(f"[{time.perf_counter() - start:6.0f} s wall] {s}", flush=True), score=score,
        make_dcgan_run=dcgan_pixels.make_run,
    )  # fmt: skip
    run.fd_floor_curve = floor
    return finish(
        run,
        method,
        profile,
        out_dir,
        {
            "wall_seconds": time.perf_counter() - start,
            "torch_threads": threads,
            "seed": seed,
            "budget_seconds": budget or config.budget_seconds,
        },
    )


def finish(run, method: str, profile: str, out_dir: str | None, extra: dict) -> str:
    """Evaluate a run at chapter 2's N and write it to assets (or out_dir)."""
    from musicgan_lib.metrics.sprite_eval import evaluate_generator
    from musicgan_lib.recipes import wgan

    config = wgan.WGANConfig.from_meta(run.config)
    ev = evaluate_generator(run.final_generator, n=config.eval_n)
    extra = {**extra, "evaluation": ev.metrics()}
    if run.generator_ema is not None:
        raw = evaluate_generator(run.generator, n=config.eval_n)
        extra["evaluation_raw"] = raw.metrics()
        print(f"{method} (raw weights, no EMA): {raw.summary()}", flush=True)
    if len(run.curve) >= 3:
        extra["critic_fd_spearman"] = run.critic_fd_spearman()
    path = (
        wgan.shipped_path(method, profile)
        if out_dir is None
        else Path(out_dir) / wgan.shipped_path(method, profile).name
    )
    wgan.save_run(run, path, extra_meta=extra)
    size = path.stat().st_size / 1e6
    print(f"{method}: {run.steps} steps in {run.seconds:.0f} s of training; {ev.summary()}", flush=True)
    if "critic_fd_spearman" in extra:
        print(
            f"{method}: Spearman(critic estimate, FD) over {len(run.curve)} checkpoints = {extra['critic_fd_spearman']:.3f}"
        )
    print(f"wrote {path} ({size:.2f} MB)", flush=True)
    return str(path)


def _job(args: tuple) -> str:
    return train_one(*args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick", choices=("quick", "full"))
    p.add_argument("--methods", nargs="+", default=["clip", "gp", "dcgan"], choices=("clip", "gp", "dcgan"))
    p.add_argument("--budget", type=float, default=None, help="training seconds per method (default: the profile's)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (1 on a shared machine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--parallel", action="store_true", help="one process per method")
    p.add_argument("--out-dir", default=None, help="write here instead of assets/")
    p.add_argument("--snapshots", default=None, help="folder for a snapshot of every run at every checkpoint")
    p.add_argument(
        "--promote",
        type=int,
        default=None,
        metavar="K",
        help="do not train: ship checkpoint K of each method from --snapshots (same K = same training time)",
    )
    a = p.parse_args(argv)
    if a.promote is not None:
        import torch

        from musicgan_lib.recipes import wgan

        torch.set_num_threads(a.threads)
        for m in a.methods:
            src = Path(a.snapshots) / f"wgan_{m}_{a.profile}_{a.promote:02d}.safetensors"
            run = wgan.load_run(src)
            meta = {k: v for k, v in run.meta.items() if k in ("torch_threads", "seed", "budget_seconds", "clock")}
            meta["promoted_from_checkpoint"] = a.promote
            finish(run, m, a.profile, a.out_dir, meta)
        return 0
    jobs = [(m, a.profile, a.budget, a.threads, a.seed, a.out_dir, a.snapshots) for m in a.methods]
    if a.parallel and len(jobs) > 1:
        with mp.get_context("spawn").Pool(len(jobs)) as pool:
            for path in pool.imap_unordered(_job, jobs):
                print("done:", path, flush=True)
    else:
        for job in jobs:
            _job(job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
