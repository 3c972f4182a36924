"""Train chapter 7's latent GAN on the shipped autoencoder's latents; write assets/latent_gan.safetensors.

    .venv/bin/python scripts/make_latent_gan_weights.py                  # quick profile, CPU, one thread
    .venv/bin/python scripts/make_latent_gan_weights.py --profile full --device cuda

What it does:
1. makes the chapter's note sets (training, reference, held-out) and encodes them with the
   frozen chapter-6 autoencoder (cached in runs/07, so a rerun skips it);
2. fits the generator's sheet to the training latents (`LatentSheet`, about 70 s), then trains the
   conditional WGAN-GP (`recipes.latent_gan`) for the profile's steps, taking the
   latent FD of the EMA generator every 250 steps; a training checkpoint every 500 steps
   lets a killed run resume;
3. measures it exactly as the notebook does (`metrics.latent_eval`: N notes per row, the three floors) and prints
   the table and the targets;
4. stores the EMA generator (fp16), the latents it was trained on (fp16, with the
   autoencoder's fingerprint, so the notebook need not encode 6,000 notes), the training
   curves and the measured records in one small file.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicgan_lib.data.note_sets import choose_note_data  # noqa: E402
from musicgan_lib.metrics.audio_classifier import load_note_classifier  # noqa: E402
from musicgan_lib.metrics.latent_eval import Evaluator  # noqa: E402
from musicgan_lib.models.ddsp_autoencoder import load_autoencoder  # noqa: E402
from musicgan_lib.models.note_latents import load_chapter_data  # noqa: E402
from musicgan_lib.recipes import latent_gan as ch7  # noqa: E402


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def thin(history: dict[str, list[float]], every: int) -> dict[str, list[float]]:
    """Every `every`-th entry (plus the last) of each curve: enough for a plot, small enough for JSON."""
    n = len(history["step"])
    keep = sorted(set(range(0, n, every)) | {n - 1}) if n else []
    return {k: [round(float(v[i]), 5) for i in keep] for k, v in history.items()}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="quick", choices=("quick", "full"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=None, help="override the profile's generator steps")
    ap.add_argument("--noise-dim", type=int, default=None, help="override the profile's generator noise dimensions")
    ap.add_argument("--sheet-dim", type=int, default=None, help="override the profile's sheet dimensions (0: no sheet)")
    ap.add_argument("--sheet-branches", type=int, default=None, help="override the sheet's pieces per (pitch, family)")
    ap.add_argument("--out", type=Path, default=ch7.ASSET_PATH)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / "runs" / "latent_gan_train.safetensors")
    ap.add_argument(
        "--data",
        choices=("auto", "soundfont", "synthetic"),
        default="soundfont",
        help="the notes the GAN learns the encodings of (shipped: soundfont, TimGM6mb)",
    )
    ap.add_argument("--soundfont", default=None, help="a .sf2/.sf3 to render the notes with (default: TimGM6mb)")
    ap.add_argument("--fresh", action="store_true", help="ignore an existing training checkpoint")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ch7.LatentGANConfig.for_profile(args.profile)
    if args.steps is not None:
        config = replace(config, steps=args.steps)
    if args.noise_dim is not None:
        config = replace(config, noise_dim=args.noise_dim)
    if args.sheet_dim is not None:
        config = replace(config, sheet_dim=args.sheet_dim)
    if args.sheet_branches is not None:
        config = replace(config, sheet_branches=args.sheet_branches)
    log(config.describe())
    ae = load_autoencoder(args.device)
    classifier = load_note_classifier(args.device)
    notes = choose_note_data(args.data, args.soundfont)
    log(notes.describe())
    data = load_chapter_data(ae, config, cache_dir=ROOT / "runs" / "07", notes=notes)
    log(f"data ready ({data.seconds:.0f} CPU s); autoencoder {data.fingerprint}")
    if args.fresh and args.checkpoint.exists():
        args.checkpoint.unlink()
    result = ch7.train_latent_gan(
        data,
        config,
        seed=args.seed,
        device=args.device,
        track_every=250,
        checkpoint_path=args.checkpoint,
        checkpoint_every=500,
    )
    log(
        f"trained {result.steps} steps in {result.seconds:.0f} CPU s; latent FD curve "
        f"{[round(v, 3) for v in result.latent_fd]}"
    )
    evaluator = Evaluator(ae, classifier, data, config, seed=args.seed)
    evaluator.evaluate(result.generator)
    print(evaluator.table())
    for _, text, ok in evaluator.targets():
        print(f"{'PASS' if ok else 'FAIL'}: {text}")
    meta = {
        "steps": result.steps,
        "seed": args.seed,
        "train_seconds": round(result.seconds, 1),
        "history": thin(result.history, max(1, result.steps // 400)),
        "latent_fd": {"step": result.fd_steps, "fd": [round(v, 5) for v in result.latent_fd]},
        "records": {k: round(float(v), 6) for k, v in evaluator.records().items()},
        "built": time.strftime("%Y-%m-%d %H:%M"),
    }
    path = ch7.save_latent_gan(result.generator, args.out, config, data, meta=meta)
    log(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
