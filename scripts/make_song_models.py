"""Train chapter 8's song autoencoder on real tunes and ship it in assets/.

    .venv/bin/python scripts/make_song_models.py                 # quick profile, resumes if interrupted
    nohup .venv/bin/python scripts/make_song_models.py > runs/song_ae.log 2>&1 &

Tunes come from the music21 corpus (Essen folk songs), split by tune; the training tunes are
played by SoundFont instruments (fluidsynth) and cut into clips. The run checkpoints every
`checkpoint_every` steps into --work and resumes from there, so a killed run loses at most
that much; the finished model is written (float16) to --out with what it was trained on.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.data.soundfont import find_soundfont  # noqa: E402
from musicgan_lib.recipes import song_gan as ch8  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="stop at this step (default: the profile's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core for other work)")
    parser.add_argument("--work", type=Path, default=Path("runs/song_models"), help="cache and checkpoint folder")
    parser.add_argument("--out", type=Path, default=ch8.AE_PATH)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ch8.SongConfig.for_profile(args.profile)
    t0 = time.perf_counter()
    data = ch8.load_song_data(config, cache_dir=args.work / "cache")
    print(f"{len(data.train_tunes)} training tunes, {len(data.held_out_tunes)} held out; {len(data.clips)} clips of "
          f"{config.ae_clip_s} s ({time.perf_counter() - t0:.0f} s)", flush=True)
    steps = args.steps or config.ae_steps
    model, loop = ch8.train_song_autoencoder(config, data.clips, args.seed, checkpoint_path=args.work / "autoencoder.ckpt",
                                             steps=steps, log_every=50)
    if loop.step < config.ae_steps:
        print(f"stopped at step {loop.step} of {config.ae_steps}; run again to continue")
        return 0
    font = find_soundfont()
    path = ch8.save_song_autoencoder(model, args.out, steps=loop.step, seconds=round(loop.seconds, 1), seed=args.seed,
                                     profile=config.profile, history=loop.history,
                                     data={"collection": config.collection, "n_tunes": config.n_tunes,
                                           "held_out": config.held_out, "data_seed": config.data_seed,
                                           "clips": len(data.clips), "soundfont": font.name if font else None})
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) after {loop.seconds:.0f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
