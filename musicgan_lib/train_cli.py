"""Train a chapter's model from the command line, on one process or data-parallel under torchrun.

    python -m musicgan_lib.train_cli dcgan --steps 4000 --out runs/dcgan
    torchrun --nproc_per_node 2 -m musicgan_lib.train_cli dcgan --steps 4000 --out runs/dcgan
    musicgan train dcgan --nproc 2 --steps 4000 --out runs/dcgan        # the same, torchrun started for you

Models: `toy` (chapter 1's 2-D GAN, `--method vanilla|minimax|...`), `dcgan` (chapter 2's
recipes, `--recipe dcgan|dcgan-pac2-ema|dcgan-cond`), `wgan` (chapter 3, `--method clip|gp`),
`progan` (chapter 4's growing GAN; `--steps` counts steps of its growth schedule), `autoencoder`
(chapter 6's note autoencoder, `--data auto|soundfont|synthetic`), `latent-gan` (chapter 7's GAN over
the shipped note autoencoder's encodings; OUT/metrics.json holds its latent FD), `song-autoencoder`
(chapter 8's frame autoencoder on real tunes played through the SoundFont), `song-gan` (chapter 8's
GAN over the shipped song autoencoder's frames of real tunes, `--tunes N` for fewer; it writes OUT/sample.wav
and the note numbers of its frames beside the training windows') and `sprites PATH` (your own sprites: a
folder of PNGs or a sheet with `--tile`, trained with the small-data recipe `dcgan-diffaug`;
without PATH, a built-in set of 1,000 procedural sprites). Sprite runs write OUT/samples.png and
OUT/progress.gif every `--sample-every` steps, and log how often the discriminator calls
training and held-out real sprites real (a gap means it is memorising the training set). `--batch` is the *global* batch: each of
N ranks trains on batch / N samples of it (see `distributed`), so 1 and N processes train the same
model. The run checkpoints into OUT every `--checkpoint-every` steps and at the end; the same
command resumes it, with any number of processes. Rank 0 writes OUT/metrics.json (and, for
sprites, OUT/samples.png). OUT must be new, empty or an earlier run of this command.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import torch

from . import distributed

MARKER = ".musicgan-train-run"


def _out_dir(path: str) -> Path:
    """OUT, checked like the course runner's: never a folder that holds someone else's files."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise SystemExit(f"musicgan train: error: --out {out} is a file; pick a folder, e.g. --out runs/dcgan")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise SystemExit(
            f"musicgan train: error: --out {out} holds files no training run wrote; pick a new or empty folder"
        )
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by musicgan_lib.train_cli; the same command resumes the run here\n")
    distributed.barrier()
    return out


def _resume(loop) -> None:
    """Continue from OUT's checkpoint when there is one (written by any number of ranks); the loop says so."""
    loop.resume()


def train_toy(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .data.toy2d import grid, ring
    from .recipes import gan_basics as ch1

    mixture = ring() if args.mixture == "ring" else grid()
    config = replace(
        ch1.ToyConfig.for_profile("quick"), steps=args.steps, mixture_steps=(), batch_size=args.batch or 256
    )
    trainer, _, _ = ch1.make_toy_trainer(mixture, args.method, args.seed, config)
    trainer.loop.checkpoint_path, trainer.loop.checkpoint_every = out / "checkpoint.safetensors", args.checkpoint_every
    _resume(trainer.loop)
    trainer.run(args.steps)
    report = ch1.mode_report(trainer.sample(ch1.EVAL_SAMPLES, rng=torch.Generator().manual_seed(10_000)), mixture)
    return {
        "modes": report.modes_covered,
        "high_quality": report.high_quality,
        "steps": trainer.step,
        "train_seconds": trainer.loop.seconds,
    }


def train_dcgan(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .recipes import dcgan_pixels as ch2

    config = ch2.DCGANConfig.for_profile("quick")
    config = replace(config, batch_size=args.batch or config.batch_size, track_every=0, frames=2, bf16=False)
    run = ch2.make_run(
        args.recipe,
        config,
        seed=args.seed,
        total_steps=args.steps,
        checkpoint_path=out / "checkpoint.safetensors",
        checkpoint_every=args.checkpoint_every,
    )
    _resume(run.trainer.loop)
    run.train(args.steps)
    if not distributed.is_main():
        return {}
    evaluation = _sprite_metrics(run.sampling_generator(), args, out, run.sample)
    return {**evaluation, "steps": run.trainer.step, "train_seconds": run.trainer.loop.seconds}


def _sprite_metrics(generator, args: argparse.Namespace, out: Path, sample) -> dict[str, float]:
    """Rank 0: OUT/samples.png (96 sprites at 2x) and the chapter-2 sprite metrics of `generator`
    (a generator module, or a function n -> sprites [n, 3, 32, 32])."""
    from .imaging import image_grid, png_bytes
    from .metrics.sprite_eval import evaluate_generator

    (out / "samples.png").write_bytes(png_bytes(image_grid(sample(96), nrow=12, scale=2)))
    return evaluate_generator(generator, n=args.eval_samples).metrics()


def train_wgan(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .recipes import wgan as ch3

    config = ch3.WGANConfig.for_profile("quick")
    config = replace(config, batch_size=args.batch or config.batch_size)
    trainer = ch3.make_wgan_trainer(
        args.method if args.method in ch3.METHODS else "gp",
        config,
        ch3.training_sprites(config),
        labels=ch3.training_labels(config),
        seed=args.seed,
    )
    trainer.loop.checkpoint_path, trainer.loop.checkpoint_every = out / "checkpoint.safetensors", args.checkpoint_every
    _resume(trainer.loop)
    trainer.run(args.steps)
    if not distributed.is_main():
        return {}
    generator = trainer.ema.module if trainer.ema is not None else trainer.generator
    metrics = _sprite_metrics(generator, args, out, lambda n: trainer.sample(n))
    return {**metrics, "steps": trainer.step, "train_seconds": trainer.loop.seconds}


def train_progan(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .recipes import progan as ch4

    config = ch4.ProGANConfig()
    trainer = ch4.ProGANTrainer(
        config, seed=args.seed, checkpoint_path=out / "checkpoint.safetensors", checkpoint_every=args.checkpoint_every
    )
    _resume(trainer.loop)
    trainer.run(min(args.steps, trainer.schedule.total_steps))
    if not distributed.is_main():
        return {}
    from .data.progan_sprites import to_eval_space

    run = trainer.result()
    sprites = lambda n: to_eval_space(run.sample(n).clamp(-1, 1))  # noqa: E731  (32x32, as chapter 4 scores them)
    metrics = _sprite_metrics(sprites, args, out, sprites)
    return {**metrics, "steps": trainer.step, "resolution": run.generator.resolution, "train_seconds": trainer.seconds}


def train_autoencoder(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .recipes import autoencoder as ch6

    config = ch6.replace_config(
        ch6.AutoencoderConfig(), steps=args.steps, source=args.data, checkpoint_every=args.checkpoint_every
    )
    if args.batch:
        config = ch6.replace_config(config, batch_size=args.batch)
    run = ch6.train_autoencoder(config, seed=args.seed, checkpoint_path=out / "checkpoint.safetensors")  # resumes
    if not distributed.is_main():
        return {}
    last = {k: sum(v[-50:]) / len(v[-50:]) for k, v in run.history.items() if k != "step" and v}
    return {
        **{f"{k}_last50": round(v, 5) for k, v in last.items()},
        "steps": run.history["step"][-1],
        "train_seconds": run.seconds,
    }


def _main_rank_first(make):
    """make() on rank 0 first (it may write a cache), then on the other ranks (they read it)."""
    if distributed.is_main():
        value = make()
    distributed.barrier()
    return value if distributed.is_main() else make()


def train_latent_gan(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .data.note_sets import choose_note_data
    from .models.ddsp_autoencoder import load_autoencoder
    from .models.note_latents import load_chapter_data
    from .recipes import latent_gan as ch7

    config = ch7.LatentGANConfig.for_profile("quick")
    config = replace(config, batch_size=args.batch or config.batch_size)
    if args.notes:
        config = replace(config, n_train=args.notes, n_eval=max(args.notes // 4, 64))
    if args.sheet_steps is not None:
        config = replace(config, sheet_steps=args.sheet_steps)
    ae = load_autoencoder()
    data = _main_rank_first(
        lambda: load_chapter_data(ae, config, cache_dir=out / "cache", notes=choose_note_data(args.data))
    )
    run = ch7.train_latent_gan(
        data,
        config,
        steps=args.steps,
        seed=args.seed,
        track_every=max(args.steps // 4, 1),
        checkpoint_path=out / "checkpoint.safetensors",
        checkpoint_every=args.checkpoint_every,
    )
    if not distributed.is_main():
        return {}
    return {"latent_fd": round(run.latent_fd[-1], 5), "steps": run.steps, "train_seconds": run.seconds}


MUSIC_MEASURES = ("scale_consistency", "pitch_class_entropy", "step_ratio", "notes_per_s")  # song-gan's frame numbers


def train_song_gan(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .audio.io import write_wav
    from .data.song_clips import split_tunes
    from .metrics.song_report import frames_row
    from .models.song_autoencoder import load_song_autoencoder
    from .models.song_gan import decode_frames, gan_windows, generate_windows
    from .recipes import song_gan as ch8

    config = ch8.SongConfig.for_profile("quick")
    config = replace(config, n_tunes=args.tunes or config.n_tunes, gan_batch=args.batch or config.gan_batch)
    ae = load_song_autoencoder()
    tunes, _ = _main_rank_first(lambda: split_tunes(config, cache_dir=out / "cache", progress=distributed.is_main()))
    encoded, _ = gan_windows(config, tunes, ae, step_s=config.window_step_s, progress=distributed.is_main())
    codec = ch8.frame_codec(config, encoded)
    frames = codec.to_frames(encoded.f0_hz, encoded.loudness_db, encoded.z)
    trainer = ch8.make_gan_trainer(config, frames, args.seed, codec=codec)
    trainer.loop.checkpoint_path, trainer.loop.checkpoint_every = out / "checkpoint.safetensors", args.checkpoint_every
    _resume(trainer.loop)
    trainer.run(args.steps)
    if not distributed.is_main():
        return {}
    gan = ch8.trained_song_gan(trainer, codec)
    generated = generate_windows(gan, min(args.eval_samples, 64), seed=args.seed)
    real = torch.randperm(len(frames), generator=torch.Generator().manual_seed(args.seed))[: len(generated)]
    write_wav(out / "sample.wav", decode_frames(ae, codec, generated[:1])[0], config.model.sample_rate)
    rate = config.model.frame_rate
    rows = [frames_row("training windows", encoded.f0_hz[real], rate)]
    rows.append(frames_row("GAN", codec.from_frames(generated)[0], rate))
    for row in rows:
        print(f"{row.name}: " + ", ".join(f"{k} {getattr(row, k):.3f}" for k in MUSIC_MEASURES), flush=True)
    return {
        **{
            f"{k}{suffix}": round(getattr(row, k), 4)
            for row, suffix in zip(rows, ("_train", ""))
            for k in MUSIC_MEASURES
        },
        "steps": trainer.step,
        "train_seconds": trainer.loop.seconds,
    }


def train_song_autoencoder(args: argparse.Namespace, out: Path) -> dict[str, float]:
    from .data.song_clips import load_song_data
    from .recipes import song_gan as ch8

    config = ch8.SongConfig.for_profile("quick")
    config = replace(config, n_tunes=args.tunes or config.n_tunes, ae_batch=args.batch or config.ae_batch)
    config = replace(config, checkpoint_every=args.checkpoint_every)
    data = _main_rank_first(lambda: load_song_data(config, cache_dir=out / "cache", progress=distributed.is_main()))
    _, loop = ch8.train_song_autoencoder(
        config, data.clips, seed=args.seed, checkpoint_path=out / "checkpoint.safetensors", steps=args.steps
    )
    if not distributed.is_main():
        return {}
    recent = loop.history["mss"][-50:]
    return {"mss_last50": round(sum(recent) / len(recent), 5), "steps": loop.step, "train_seconds": loop.seconds}


def sprite_set(args: argparse.Namespace):
    """Training sprites [N, 3, 32, 32] and a held-out tenth (at least 32) for the overfitting check."""
    from .data.sprites import sprites_or_builtin

    try:
        train, held, what = sprites_or_builtin(args.path, args.tile, args.spacing, args.margin, seed=args.seed)
    except ValueError as exc:
        raise SystemExit(f"musicgan train: error: {exc}") from None
    print(what)
    return train, held


def train_sprites(args: argparse.Namespace, out: Path) -> dict[str, float]:
    if args.export and Path(args.export).exists():
        raise SystemExit(f"musicgan train: error: --export {args.export} exists; remove it or name a new file")
    from .imaging import image_grid, png_bytes, progress_gif_frames, read_gif, to_uint8, write_gif
    from .metrics.sprite_eval import critic_on_real
    from .recipes import dcgan_pixels as ch2
    from .train import Every, train_with_estimate

    train, held = sprite_set(args)
    config = ch2.DCGANConfig.for_profile("quick")
    config = replace(config, batch_size=args.batch or 64, track_every=0, frames=2, bf16=False)
    log: list[dict[str, float]] = json.loads((out / "log.json").read_text()) if (out / "log.json").exists() else []
    frames = list(read_gif(out / "progress.gif")) if (out / "progress.gif").exists() else []

    def sample(loop) -> None:
        (called_train, p_train), (called_held, p_held) = (
            critic_on_real(run.trainer.critic, images) for images in (train[: len(held)], held)
        )
        log.append(
            {
                "step": loop.step,
                "d_real_train": called_train,
                "d_real_held_out": called_held,
                "d_prob_train": p_train,
                "d_prob_held_out": p_held,
            }
        )
        if not distributed.is_main():
            return
        grid = image_grid(run.sample(48), nrow=12, scale=2)
        (out / "samples.png").write_bytes(png_bytes(grid))
        frames.append(progress_gif_frames([(loop.step, to_uint8(run.sample(16)))], scale=2, nrow=8)[0])
        write_gif(frames, out / "progress.gif")
        (out / "log.json").write_text(json.dumps(log, indent=1))

    run = ch2.make_run(
        args.recipe,
        config,
        seed=args.seed,
        images=train,
        total_steps=args.steps,
        callbacks=[Every(args.sample_every, sample)],
        checkpoint_path=out / "checkpoint.safetensors",
        checkpoint_every=args.checkpoint_every,
    )
    _resume(run.trainer.loop)
    train_with_estimate(run.train, run.trainer.step, args.steps, f"{args.recipe} on {len(train)} sprites")
    if args.export and distributed.is_main():
        extra = {"sprite_set": Path(args.path).name or "built-in", "held_out": len(held), "memorising_log": log}
        print(f"wrote {ch2.save_generator(args.export, run, extra_meta=extra)}", flush=True)
    last = log[-1] if log else {}
    return {
        "sprites": len(train),
        "held_out": len(held),
        **last,
        "steps": run.trainer.step,
        "train_seconds": run.trainer.loop.seconds,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="musicgan train", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "model",
        choices=(
            "toy",
            "dcgan",
            "wgan",
            "progan",
            "autoencoder",
            "latent-gan",
            "song-autoencoder",
            "song-gan",
            "sprites",
        ),
    )
    parser.add_argument("path", nargs="?", default="", help="sprites: a folder of PNGs or a sprite sheet")
    parser.add_argument("--steps", type=int, required=True, help="train up to this many steps in total")
    parser.add_argument("--out", required=True, help="run folder: checkpoint, metrics.json, samples")
    parser.add_argument("--batch", type=int, default=0, help="global batch (default: the chapter's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    parser.add_argument(
        "--method", default=None, help="toy: a chapter-1 method (non-saturating); wgan: clip or gp (gp)"
    )
    parser.add_argument("--mixture", choices=("ring", "grid"), default="ring", help="toy: the data")
    parser.add_argument("--recipe", default=None, help="dcgan / sprites: a chapter-2 recipe")
    parser.add_argument("--tile", default=None, help="sprites: cut PATH as a sheet of tiles, e.g. 32 or 32x24")
    parser.add_argument("--spacing", type=int, default=0, help="sprites: pixels between a sheet's tiles")
    parser.add_argument("--margin", type=int, default=0, help="sprites: pixels around a sheet's edge")
    parser.add_argument(
        "--export",
        default="",
        help="sprites: also write the trained generator to this new .safetensors file "
        "(load it with recipes.dcgan_pixels.load_generator; its metadata holds the memorising log)",
    )
    parser.add_argument("--sample-every", type=int, default=250, help="sprites: steps between samples")
    parser.add_argument(
        "--eval-samples",
        type=int,
        default=2000,
        help="dcgan, wgan, progan: samples for the metrics (song-gan: windows, at most 64)",
    )
    parser.add_argument(
        "--data",
        choices=("auto", "soundfont", "synthetic"),
        default="auto",
        help="autoencoder, latent-gan: the notes it learns (the encodings of)",
    )
    parser.add_argument("--notes", type=int, default=0, help="latent-gan: training notes (default: the chapter's)")
    parser.add_argument(
        "--sheet-steps", type=int, default=None, help="latent-gan: steps fitting the generator's sheet (the chapter's)"
    )
    parser.add_argument(
        "--tunes", type=int, default=0, help="song-autoencoder, song-gan: tunes parsed (default: the chapter's 400)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    w = distributed.setup()
    torch.set_num_threads(max(1, torch.get_num_threads() // w.size))  # ranks share the machine's cores
    try:
        out = _out_dir(args.out)
        args.recipe = args.recipe or ("dcgan-diffaug" if args.model == "sprites" else "dcgan-pac2-ema")
        if args.model == "wgan" and args.method not in (None, "clip", "gp"):
            raise SystemExit(f"musicgan train: error: wgan --method is clip or gp, got {args.method!r}")
        args.method = args.method or ("gp" if args.model == "wgan" else "non-saturating")
        trainers = {
            "toy": train_toy,
            "dcgan": train_dcgan,
            "wgan": train_wgan,
            "progan": train_progan,
            "autoencoder": train_autoencoder,
            "latent-gan": train_latent_gan,
            "song-autoencoder": train_song_autoencoder,
            "song-gan": train_song_gan,
            "sprites": train_sprites,
        }
        metrics = trainers[args.model](args, out)
        if w.is_main:
            metrics = {**metrics, "ranks": w.size}
            (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
            print(json.dumps(metrics))
    finally:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
