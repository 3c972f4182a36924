"""Chapter 8: generate and decode a 60-second song, one pass vs one window at a time, side by side.

    .venv/bin/python benchmarks/bench_song_generation.py [--seconds 60] [--rounds 3] [--device cpu]

"one pass" runs the generator once over the whole anchor sequence and decodes the song in one
call (what `models.song_gan.generate_song` + `decode_frames(batch=...)` do); "per window" is the
loop a first version would write: generate each 8-s window from its own latents and decode it
alone. Both give the same frames (the seam test); the speed-up is the ratio of their times, and
"x real time" is the song's length over the time taken. Uses the shipped models when they exist,
else untrained ones of the same size (speed does not depend on training).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.models.song_autoencoder import SongAutoencoder, SongEncoding, load_song_autoencoder  # noqa: E402
from musicgan_lib.models.song_gan import FrameCodec, ShippedSongGAN, SongGenerator, load_song_gan  # noqa: E402
from musicgan_lib.models.song_gan import song_anchors, window_latents  # noqa: E402
from musicgan_lib.recipes import song_gan as ch8  # noqa: E402


def models(device: str) -> tuple:
    config = ch8.SongConfig()
    if ch8.AE_PATH.exists() and ch8.GAN_PATH.exists():
        return load_song_autoencoder(device=device), load_song_gan(device=device), "shipped"
    ae = SongAutoencoder(config.model).eval().to(device)
    z = torch.zeros(config.gan.latent_dim)
    return (
        ae,
        ShippedSongGAN(SongGenerator(config.gan).eval().to(device), FrameCodec(config.gan, z, z + 1), {}),
        "untrained",
    )


@torch.no_grad()
def one_pass(ae, gan, anchors, style) -> torch.Tensor:
    frames = gan.generator.frames_from(anchors, style)
    f0, loud, z = gan.codec.from_frames(frames.cpu())
    return ae.decode(SongEncoding(f0.to(frames.device), loud.to(frames.device), z.to(frames.device)))


@torch.no_grad()
def per_window(ae, gan, anchors, style) -> torch.Tensor:
    parts = []
    for latent in window_latents(anchors, style, gan.generator.cfg):
        frames = gan.generator(latent[None])
        f0, loud, z = gan.codec.from_frames(frames.cpu())
        parts.append(ae.decode(SongEncoding(f0.to(frames.device), loud.to(frames.device), z.to(frames.device))))
    return torch.cat(parts, dim=-1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    ae, gan, which = models(args.device)
    cfg = gan.generator.cfg
    n_windows = max(1, round(args.seconds * ae.frame_rate / cfg.window_frames))
    anchors, style = song_anchors(n_windows, cfg, torch.Generator().manual_seed(0))
    anchors, style = anchors.to(args.device), style.to(args.device)
    seconds = n_windows * cfg.window_frames / ae.frame_rate
    print(
        f"{which} models, {seconds:.0f} s song ({n_windows} windows), {torch.get_num_threads()} threads, {args.device}"
    )
    per_window(ae, gan, anchors, style)  # warm-up
    times = {"one pass": [], "per window": []}
    for _ in range(args.rounds):
        for name, fn in (("one pass", one_pass), ("per window", per_window)):  # interleaved: same machine state
            t0 = time.perf_counter()
            fn(ae, gan, anchors, style)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - t0)
    base = min(times["per window"])
    for name, ts in times.items():
        best = min(ts)
        print(
            f"{name:11s} best {best:6.2f} s  ({seconds / best:6.1f} x real time)  speed-up {base / best:4.2f}x "
            f"over per window  (rounds: {', '.join(f'{t:.2f}' for t in ts)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
