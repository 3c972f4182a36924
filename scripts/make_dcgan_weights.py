"""Train chapter 2's DCGANs and write the generators the notebook ships with to assets/.

    .venv/bin/python scripts/make_dcgan_weights.py                         # quick profile, the chapter's three recipes
    .venv/bin/python scripts/make_dcgan_weights.py --recipes dcgan-cond    # only the conditional remedy
    .venv/bin/python scripts/make_dcgan_weights.py --profile full --device cuda

For each recipe (plain "dcgan", the label-free "dcgan-pac2-ema" and the conditional remedy
"dcgan-cond") this trains the profile's full run
(`DCGANConfig.steps_for(recipe)`, seed 0, the same code path as the notebook: `dcgan_pixels.make_run`),
then writes `assets/dcgan_<recipe>_<profile>.safetensors`: the sampling generator in fp16 (the
EMA one for the remedy), the training-progress GIF frames (uint8) and, in the metadata, the
config, loss history, the attribute checks taken every `track_every` steps while it trained
(`DCGANRun.attribute_track`) and the evaluation on 2,000 samples. On one core of the 2-core
development CPU (bf16 autocast) a step takes 0.065-0.09 s: the quick profile's 4,000 steps are
about 5 minutes per recipe, the remedy's 30,000 about 35-45. Training checkpoints go to runs/dcgan_weights/ every
250 steps, and an interrupted run resumes from there (also to a larger --steps: it carries on).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from musicgan_lib.device import pick_device
    from musicgan_lib.recipes import dcgan_pixels as ch2

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", default="quick", choices=["quick", "full"])
    p.add_argument(
        "--recipes", default=",".join(ch2.CHAPTER_RECIPES), help=f"comma-separated, from {list(ch2.RECIPES)}"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=0, help="override the profile's number of steps")
    p.add_argument("--out", default=str(ROOT / "assets"), help="folder for the .safetensors files")
    p.add_argument(
        "--work", default=str(ROOT / "runs" / "dcgan_weights"), help="folder for resumable training checkpoints"
    )
    p.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: default; 1 is faster on a busy machine)"
    )
    args = p.parse_args(argv)

    import numpy as np
    import torch

    from musicgan_lib.metrics.attributes import AttributeTrack
    from musicgan_lib.train import Every

    os.environ.setdefault("MUSICGAN_BATCH", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    config = ch2.DCGANConfig.for_profile(args.profile)
    if args.steps:
        config = ch2.with_steps(config, steps=args.steps, remedy_steps=args.steps)
    for name in args.recipes.split(","):
        spec = ch2.get_recipe(name.strip())
        work = Path(args.work) / f"{spec.name}_{args.profile}_seed{args.seed}.safetensors"
        frames_file = work.with_suffix(".frames.npz")
        track_file = work.with_suffix(".track.json")
        work.parent.mkdir(parents=True, exist_ok=True)

        def save_frames(loop, frames_file=frames_file, track_file=track_file):  # what a checkpoint does not hold
            np.savez(
                frames_file, steps=np.array([s for s, _ in run.frames]), frames=np.stack([f for _, f in run.frames])
            )
            if run.attribute_track is not None:
                track_file.write_text(json.dumps(run.attribute_track.to_meta()))

        run = ch2.make_run(
            spec, config, seed=args.seed, device=device, checkpoint_path=work, checkpoint_every=250,
            callbacks=[Every(250, save_frames)],
        )  # fmt: skip
        if run.trainer.loop.resume() and frames_file.exists():
            print(f"{spec.name}: resumed from {work} at step {run.trainer.step}")
            stored = np.load(frames_file)
            run.frames[:] = [(int(s), f) for s, f in zip(stored["steps"], stored["frames"]) if s <= run.trainer.step]
            if track_file.exists():
                run.attribute_track = AttributeTrack.from_meta(json.loads(track_file.read_text())).until(
                    run.trainer.step
                )
        t0 = time.perf_counter()
        steps = config.steps_for(spec)
        run.train(steps)
        print(
            f"{spec.name}: {steps} steps in {run.trainer.loop.seconds:.0f} s of training ({time.perf_counter() - t0:.0f} s this session)"
        )
        ev = ch2.evaluate_generator(run.generator, n=config.eval_samples)
        print(f"{spec.name}: {ev.summary()}")
        meta = {"evaluation": ev.metrics(), "seed": args.seed, "device": str(device)}
        if run.trainer.ema is not None:  # what the EMA adds: the raw generator of the same run
            raw = ch2.evaluate_generator(run.trainer.generator, n=config.eval_samples)
            print(f"{spec.name} (raw generator, no EMA): {raw.summary()}")
            meta["evaluation_raw_generator"] = raw.metrics()
        target = Path(args.out) / ch2.shipped_path(spec, args.profile).name
        ch2.save_generator(target, run, extra_meta=meta)
        print(f"{spec.name}: wrote {target} ({target.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
