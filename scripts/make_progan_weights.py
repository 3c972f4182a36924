"""Train chapter 4's progressive GAN and the equal-time baselines; write assets/progan_<profile>.safetensors.

    .venv/bin/python scripts/make_progan_weights.py                    # quick profile, CPU
    .venv/bin/python scripts/make_progan_weights.py --skip-baselines   # ProGAN only (keeps same-budget baselines)
    .venv/bin/python scripts/make_progan_weights.py --only-baselines dcgan-cond wgan-gp-cond
    .venv/bin/python scripts/make_progan_weights.py --skip-baselines --seed 1 --out runs/progan_seed1.safetensors
    .venv/bin/python scripts/make_progan_weights.py --profile full --device cuda --workers 1

What it does:
1. trains ProGAN 4x4 -> 32x32 on the chapter-2 sprites (one torch thread per process on a CPU)
   for the profile's training-time budget (config.budget_seconds; evaluations excluded), an FD
   point (N = config.curve_n, 32x32 feature space) several times in every phase;
2. measures the final EMA generator with chapter 2's `evaluate_generator` (N = 2,000);
3. gives the baselines (`progan.BASELINES`: chapter 2's three DCGAN recipes, chapter 3's WGAN-GP
   with and without labels) the *same training-time budget* on the same clock (CPU seconds of their process on the CPU profile) and measures them
   the same way, with an FD curve over time for each; the runs are independent, so they go to
   separate worker processes (`--workers`);
4. stores the EMA generator (fp16), fixed-latent snapshots at every phase (mid-fade included),
   the schedule, all curves, the per-resolution FD floors and the comparison in one file (< 1 MB).
"""

from __future__ import annotations

import argparse
import io
import multiprocessing as mp
import sys
import time
from contextlib import redirect_stdout
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicgan_lib.checkpoint import read_checkpoint_meta  # noqa: E402
from musicgan_lib.metrics.progan_fd import FDTracker, evaluate, growth_spikes, resolution_floors  # noqa: E402
from musicgan_lib.metrics.sprite_eval import reference_sprites  # noqa: E402
from musicgan_lib.recipes import dcgan_pixels, wgan  # noqa: E402
from musicgan_lib.recipes import progan as ch4  # noqa: E402

CHAPTERS = ch4.BaselineChapters.of(dcgan_pixels, wgan)  # the baselines' chapters, handed to chapter 4


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.__stdout__, flush=True)  # not swallowed by redirect_stdout


def _config(args: argparse.Namespace) -> ch4.ProGANConfig:
    config = ch4.ProGANConfig.for_profile(args.profile)
    return replace(config, budget_seconds=args.budget) if args.budget is not None else config


def _tracker(config: ch4.ProGANConfig) -> FDTracker:
    return FDTracker(reference_sprites(config.curve_n)[: config.curve_n])


def run_progan(args: argparse.Namespace) -> dict:
    """Train, measure and save the ProGAN (without baselines yet); return its metadata."""
    torch.set_num_threads(args.threads)
    config = _config(args)
    tracker = _tracker(config)
    floors = resolution_floors(config, config.curve_n, tracker)
    log("per-resolution FD floors (N=%d): %s" % (config.curve_n, {k: round(v, 2) for k, v in floors.items()}))
    trainer = ch4.ProGANTrainer(
        config,
        seed=args.seed,
        device=args.device,
        fd_tracker=tracker,
        log=log,
        checkpoint_path=args.checkpoint,
        checkpoint_every=250,
    )
    if trainer.resume():
        log(
            f"resumed at step {trainer.step} ({trainer.generator.resolution}px, alpha {float(trainer.generator.alpha):.2f}); "
            "snapshots before it are not in the checkpoint"
        )
    wall = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        trainer.run(budget_seconds=config.budget_seconds)
    trainer.save()
    log(
        f"ProGAN: {trainer.step} steps, {trainer.seconds:.0f} s training time ({time.perf_counter() - wall:.0f} s wall)"
    )
    final = evaluate(trainer.generator_ema, n=config.eval_n)
    log(f"ProGAN final: {final.summary()}")
    spikes = growth_spikes(trainer.curve, trainer.schedule)
    for s in spikes:
        log(
            f"growth to {s['resolution']}px at step {s['step']}: FD {s['fd_before']:.2f} -> max {s['fd_max_fade']:.2f} (x{s['ratio']:.2f})"
        )
    meta = {
        "profile": args.profile, "seed": args.seed, "threads": args.threads, "device": str(args.device),
        "clock": config.clock, "budget_seconds": config.budget_seconds, "final": final.metrics(), "spikes": spikes,
        "resolution_floors": {str(k): v for k, v in floors.items()}, "baselines": _kept_baselines(args.out, config, args),
    }  # fmt: skip
    ch4.save_asset(trainer, args.out, meta)
    return meta


#: what a kept baseline must share with the run that keeps it (besides budget, clock and profile)
_BASELINE_SETTINGS = ("seed", "threads", "device")


def _kept_baselines(path: Path, config: ch4.ProGANConfig, args: argparse.Namespace) -> dict:
    """The baselines already in `path` that were trained for the same budget, clock and profile
    with the same seed, threads and device, and with the recipe they would be trained with now
    (`ch4.baseline_recipe`); they do not depend on the ProGAN, so retraining only the ProGAN keeps
    them. Entries without their own settings inherit the file's; entries without a recorded
    recipe are not kept."""
    if not path.exists() or config.budget_seconds is None:
        return {}
    try:
        old = read_checkpoint_meta(path)
    except Exception:  # an unreadable or foreign file: keep nothing, overwrite it
        return {}
    if (old.get("budget_seconds"), old.get("clock"), old.get("profile")) != (
        config.budget_seconds,
        config.clock,
        config.profile,
    ):
        return {}
    wanted = {"seed": args.seed, "threads": args.threads, "device": str(args.device)}
    kept = {}
    for name, res in old.get("baselines", {}).items():
        settings = {k: res.get(k, old.get(k)) for k in _BASELINE_SETTINGS}
        if (
            name in ch4.BASELINES
            and settings == wanted
            and res.get("recipe") == ch4.baseline_recipe(name, CHAPTERS, config.profile)
        ):
            kept[name] = res
    return kept


def run_baseline(name: str, args: argparse.Namespace, budget: float) -> dict:
    torch.set_num_threads(args.threads)
    config = _config(args)
    res = ch4.train_baseline_for(
        name,
        budget,
        _tracker(config),
        profile=args.profile,
        clock=config.clock,
        device=args.device,
        seed=args.seed,
        chapters=CHAPTERS,
    )
    res.pop("generator")
    res.update(
        seed=args.seed,
        threads=args.threads,
        device=str(args.device),
        budget_seconds=budget,
        recipe=ch4.baseline_recipe(name, CHAPTERS, args.profile),
    )
    log(
        f"{name}: {res['steps']} steps in {res['seconds']:.0f} s -> FD {res['metrics']['fd']:.3f} "
        f"(floor {res['metrics']['fd_floor']:.3f}), coverage {res['metrics']['combo_coverage']:.3f}"
    )
    return res


def _job(job: tuple[str, argparse.Namespace, float | None]) -> tuple[str, dict]:
    name, args, budget = job
    return name, (run_progan(args) if name == "progan" else run_baseline(name, args, budget))


def _run_jobs(jobs: list[tuple[str, argparse.Namespace, float | None]], args: argparse.Namespace) -> dict[str, dict]:
    """Independent runs side by side in `--workers` processes on a CPU, one after another otherwise."""
    if args.workers > 1 and len(jobs) > 1 and str(args.device) == "cpu":
        with mp.get_context("spawn").Pool(min(args.workers, len(jobs))) as pool:
            return dict(pool.imap_unordered(_job, jobs))
    return dict(_job(j) for j in jobs)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=("quick", "full"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--workers", type=int, default=4, help="processes running ProGAN and the baselines side by side")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument(
        "--only-baselines",
        nargs="+",
        choices=ch4.BASELINES,
        default=None,
        help="do not train the ProGAN: train these baselines for the shipped run's budget and update its file",
    )
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="resumable training checkpoint (default: runs/progan_train_<profile>_seed<N>.safetensors)",
    )
    ap.add_argument("--budget", type=float, default=None, help="override the profile's training-time budget (seconds)")
    args = ap.parse_args(argv)
    args.out = args.out or ch4.asset_path(args.profile)
    args.checkpoint = args.checkpoint or ROOT / "runs" / f"progan_train_{args.profile}_seed{args.seed}.safetensors"
    config = _config(args)
    schedule = config.schedule()
    log(
        f"profile {args.profile}: budget {config.budget_seconds} s ({config.clock} clock) per run; schedule "
        f"(the last stable phase is cut by the budget):\n{schedule.describe()}"
    )
    names = ["progan"] + ([] if args.skip_baselines else list(ch4.BASELINES))
    if args.only_baselines:
        shipped = ch4.load_asset(args.out)
        budget = shipped.meta.get("budget_seconds") or shipped.meta["train_seconds"]  # the ProGAN's own budget
        if args.budget is not None and args.budget != budget:
            ap.error(
                f"--only-baselines trains for the shipped ProGAN's budget ({budget} s); drop --budget {args.budget}"
            )
        results = _run_jobs([(n, args, budget) for n in args.only_baselines], args)
        meta = dict(shipped.meta)
        kept = {n: r for n, r in meta.get("baselines", {}).items() if n in ch4.BASELINES}
        meta["baselines"] = {n: results.get(n, kept.get(n)) for n in ch4.BASELINES if n in results or n in kept}
        ch4.save_asset(shipped, args.out, meta)
        log(f"updated the baselines {args.only_baselines} in {args.out}")
        return 0
    if config.budget_seconds is None:  # no fixed budget: the baselines get the ProGAN's measured time
        results = dict([_job(("progan", args, None))])
        budget = results["progan"].get("train_seconds") or ch4.load_asset(args.out).meta["train_seconds"]
        results.update(_run_jobs([(n, args, budget) for n in names[1:]], args))
    else:
        results = _run_jobs([(n, args, config.budget_seconds) for n in names], args)
    shipped = ch4.load_asset(args.out)
    meta = dict(shipped.meta)
    meta["baselines"] = {**meta.get("baselines", {}), **{n: results[n] for n in names if n != "progan"}}
    ch4.save_asset(shipped, args.out, meta)
    log(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
