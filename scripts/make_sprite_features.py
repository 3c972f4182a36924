"""Train the generic sprite feature network and ship it as assets/sprite_features.safetensors.

    .venv/bin/python scripts/make_sprite_features.py            # ~10 CPU minutes on one thread

It learns, self-supervised (SimCLR's NT-Xent, `metrics.sprite_features`), from five sets at once:
2,000 procedural characters (their own seed, not chapter 2's training or evaluation sprites) and
four real freeciv sets (flags, shields, buildings, units; `data.sprite_sets`, from Debian's
`freeciv-data`). Then it validates itself as the issue asks: the generic FD must rank chapter 2's
three shipped generators (plain DCGAN, the label-free remedy, the conditional remedy) in the same
order as the attribute classifier's FD. The table goes into the file's metadata.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.data.sprite_sets import LICENSE, freeciv_sets  # noqa: E402
from musicgan_lib.data.sprites import make_sprites  # noqa: E402
from musicgan_lib.metrics.sprite_eval import evaluate_generator, reference_sprites, sample_generator  # noqa: E402
from musicgan_lib.metrics.sprite_features import (  # noqa: E402
    ASSET_PATH,
    generic_sprite_report,
    save_sprite_features,
    train_sprite_features,
)
from musicgan_lib.recipes import dcgan_pixels as ch2  # noqa: E402

CHARACTER_SEED = 4242  # the procedural characters it learns from: not chapter 2's data or evaluation seeds


def validate(features, n: int = 1000) -> list[dict[str, float]]:
    """Chapter 2's shipped generators scored both ways (generic and attribute FD), at N = n."""
    real = reference_sprites(2 * n)
    rows = []
    for name in ch2.CHAPTER_RECIPES:
        g = ch2.load_generator(ch2.shipped_path(name)).generator
        fake = sample_generator(g, n)
        generic = generic_sprite_report(real, fake, n, features)
        attribute_fd = evaluate_generator(g, n=n).metrics()["fd"]
        rows.append({"recipe": name, "attribute_fd": attribute_fd, **generic.metrics()})
        print(f"{name:16s} attribute FD {attribute_fd:7.2f} | {generic}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ASSET_PATH)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the loader's notes on shrunk tiles: expected for 64 x 48 art
        sets = {"characters": make_sprites(2000, seed=CHARACTER_SEED).images, **freeciv_sets()}
    print("sets:", ", ".join(f"{k} {len(v)}" for k, v in sets.items()), flush=True)
    start = time.perf_counter()
    run = train_sprite_features(sets, steps=args.steps, seed=args.seed)
    print(f"trained {run.steps} steps in {run.seconds:.0f} CPU s ({time.perf_counter() - start:.0f} s)", flush=True)
    rows = validate(run.model)
    order = [r["recipe"] for r in sorted(rows, key=lambda r: r["generic_fd"])]
    expected = [r["recipe"] for r in sorted(rows, key=lambda r: r["attribute_fd"])]
    print(f"ranking by generic FD {order}; by attribute FD {expected}: {'SAME' if order == expected else 'DIFFERENT'}")
    data = {
        "sets": {k: len(v) for k, v in sets.items()},
        "characters": f"make_sprites(2000, seed={CHARACTER_SEED})",
        "freeciv": LICENSE,
    }
    path = save_sprite_features(run, data, args.out, {"validation": rows, "same_ranking": order == expected})
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0 if order == expected else 1


if __name__ == "__main__":
    sys.exit(main())
