"""Make chapter 2's small-set runs: two recipes on 185 real sprites, to show memorising and its remedy.

    python scripts/make_small_set_runs.py            # both recipes, 10,000 steps each (~17 CPU-min each)
    python scripts/make_small_set_runs.py --steps 3000

The set is freeciv's 112 units and 73 buildings (Debian's `freeciv-data`, GPL-2+, which the
project's set-up installs), written once as PNGs to WORK/sprites. Each recipe (`dcgan`, the
plain one, and `dcgan-diffaug`) trains through `musicgan train sprites`, so the runs checkpoint
into WORK/<recipe> and the same command resumes them after an interruption. The command holds a
tenth (32 sprites) out and logs the discriminator's P(real) on training and held-out sprites
every 1,000 steps. At the end each recipe's sampling generator is exported to
assets/small_set_<recipe>.safetensors (float16, ~0.9 MB) with that log in its metadata; chapter
2 loads both. An existing asset is replaced only by this script.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicgan_lib import train_cli  # noqa: E402
from musicgan_lib.data.sprite_sets import units_and_buildings  # noqa: E402
from musicgan_lib.imaging import to_uint8  # noqa: E402
from musicgan_lib.recipes import dcgan_pixels as ch2  # noqa: E402


def write_sprite_folder(folder: Path) -> int:
    """The 185 sprites as 0000.png ... (the order `units_and_buildings` gives); kept if already written."""
    images = to_uint8(units_and_buildings())  # [N, 32, 32, 3]
    if folder.is_dir() and len(list(folder.glob("*.png"))) == len(images):
        return len(images)
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(np.ascontiguousarray(image)).save(folder / f"{i:04d}.png")
    return len(images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "small_set", help="sprites and checkpoints")
    parser.add_argument("--recipes", nargs="+", default=list(ch2.SMALL_SET_RECIPES))
    args = parser.parse_args(argv)
    folder = args.work / "sprites"
    print(f"{write_sprite_folder(folder)} sprites in {folder}", flush=True)
    for recipe in args.recipes:
        asset = ch2.small_set_path(recipe)
        if asset.exists():
            asset.unlink()  # this script's own output: remade from the (resumed) run below
        command = ["sprites", str(folder), "--recipe", recipe, "--steps", str(args.steps), "--sample-every", "1000"]
        code = train_cli.main([*command, "--out", str(args.work / recipe), "--export", str(asset)])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
