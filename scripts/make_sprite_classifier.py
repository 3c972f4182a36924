"""Train the sprite attribute classifier and ship it as assets/sprite_classifier.safetensors.

Chapter 2's coverage, KL, Fréchet distance and KID all read sprites through this one frozen
network, so it is trained once, checked on held-out sprites (fresh ones it did not train on:
every head >= 98 %), and committed. Rerun this script whenever the sprite generator's attributes
or look change:

    .venv/bin/python scripts/make_sprite_classifier.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.data.sprites import make_sprites  # noqa: E402
from musicgan_lib.metrics.attributes import (  # noqa: E402
    ASSET_PATH,
    attribute_accuracy,
    save_sprite_classifier,
    seen_in_training,
    train_attribute_classifier,
)

HELD_OUT_SEED = 987_654  # never used for training (training draws from its own seed's stream)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--held-out", type=int, default=10_000, help="fresh sprites to check accuracy on")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 is fastest on a busy 2-core box)")
    ap.add_argument("--out", type=Path, default=ASSET_PATH)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    model = train_attribute_classifier(
        steps=args.steps, batch_size=args.batch_size, seed=args.seed, log_every=max(1, args.steps // 8)
    )
    seconds = time.perf_counter() - t0
    x, y = make_sprites(args.held_out, HELD_OUT_SEED)
    # the sprite set is finite: drop the fresh sprites that training happened to draw too
    unseen = ~seen_in_training(x, steps=args.steps, batch_size=args.batch_size, seed=args.seed)
    x, y = x[unseen], y[unseen]
    acc = attribute_accuracy(model, x, y)
    noisy = x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(HELD_OUT_SEED))
    acc_noisy = attribute_accuracy(model, noisy, y)
    print(
        f"trained {args.steps} steps in {seconds:.1f}s; {len(x)} of {args.held_out} fresh sprites were not in training"
    )
    for k in acc:
        print(f"  {k:12s} held-out accuracy {acc[k]:.4f}   (pixel noise 0.05: {acc_noisy[k]:.4f})")
    worst = min(acc.values())
    if worst < 0.98:
        print(f"held-out accuracy {worst:.4f} < 0.98: not writing {args.out}; train longer (--steps)")
        return 1
    path = save_sprite_classifier(
        model,
        args.out,
        steps=args.steps,
        train_seconds=round(seconds, 1),
        extra_meta={
            "held_out_accuracy": acc,
            "held_out_accuracy_noise_0.05": acc_noisy,
            "held_out": {
                "n": len(x),
                "drawn": args.held_out,
                "seed": HELD_OUT_SEED,
                "excludes": "sprites seen in training",
            },
            "train": {"batch_size": args.batch_size, "seed": args.seed},
        },
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
