"""Train chapter 8's models on real tunes and ship them in assets/.

    .venv/bin/python scripts/make_song_models.py                      # both, autoencoder first
    .venv/bin/python scripts/make_song_models.py --only autoencoder   # assets/song_autoencoder.safetensors
    .venv/bin/python scripts/make_song_models.py --only gan           # assets/song_gan.safetensors
    .venv/bin/python scripts/make_song_models.py --only evaluate      # assets/song_eval.json (the chapter's table)
    nohup .venv/bin/python scripts/make_song_models.py > runs/song_models.log 2>&1 &

With no option flags the GAN is the shipped one (`ch8.HELD_DEGREES`: held scale degrees on an onset clock).
The option flags (--pitch-mode, --hard-pitch, --note-hold, ...) rebuild an experiment of docs/experiments/08_songs.md:
attempt 1's one-hot generator with those options on (`--pitch-mode onehot` alone is attempt 1). Each kind of GAN
checkpoints under its own name in --work, so no run resumes another's.

Tunes come from the music21 corpus (Essen folk songs), split by tune; the training tunes are
played by SoundFont instruments (fluidsynth). The autoencoder learns from 2-s clips; the GAN
from the autoencoder's encodings of 8-s windows of the same performances. Each run
checkpoints every `checkpoint_every` steps into --work and resumes from there, so a killed run
loses at most that much; the finished model is written (float16) with what it was trained on, through the
one weights API (`weights.save_weights`, via `save_song_autoencoder` / `save_song_gan`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from musicgan_lib.data.song_clips import SongData, load_song_data  # noqa: E402
from musicgan_lib.data.soundfont import find_soundfont  # noqa: E402
from musicgan_lib.metrics.song_report import evaluate as evaluate_songs  # noqa: E402
from musicgan_lib.models.song_autoencoder import load_song_autoencoder, save_song_autoencoder  # noqa: E402
from musicgan_lib.models.song_gan import SongGANConfig, gan_windows, load_song_gan, save_song_gan  # noqa: E402
from musicgan_lib.recipes import song_gan as ch8  # noqa: E402
from musicgan_lib.train import Every  # noqa: E402


def data_meta(config: ch8.SongConfig, **extra) -> dict:
    font = find_soundfont()
    return {
        "collection": config.collection,
        "n_tunes": config.n_tunes,
        "held_out": config.held_out,
        "data_seed": config.data_seed,
        "soundfont": font.name if font else None,
        **extra,
    }


def make_autoencoder(args: argparse.Namespace, config: ch8.SongConfig, data: SongData) -> int:
    steps = args.steps or config.ae_steps
    model, loop = ch8.train_song_autoencoder(
        config, data.clips, args.seed, checkpoint_path=args.work / "autoencoder.ckpt", steps=steps, log_every=50
    )
    if loop.step < config.ae_steps:
        print(f"stopped at step {loop.step} of {config.ae_steps}; run again to continue")
        return 0
    path = save_song_autoencoder(
        model,
        args.ae_out,
        steps=loop.step,
        train_seconds=round(loop.seconds, 1),
        seed=args.seed,
        profile=config.profile,
        history=loop.history,
        data=data_meta(config, clips=len(data.clips), clip_s=config.ae_clip_s),
    )
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) after {loop.seconds:.0f} s of training", flush=True)
    return 0


# the generator's experimental options, each a --flag of this script (docs/experiments/08_songs.md)
OPTIONS = (
    "hard_pitch",
    "critic_intervals",
    "key_pitch",
    "critic_histogram",
    "note_hold",
    "scale_degrees",
    "onset_clock",
    "clock_per_anchor",
    "perform_notes",
)


def _variant(gan: SongGANConfig) -> str:
    """The checkpoint's suffix: the GAN's options that are on, so a run never resumes another kind of GAN's run."""
    on = {
        "_hard_pitch": gan.hard_pitch,
        "_continuous": gan.pitch_mode == "continuous",
        "_intervals": gan.critic_intervals,
        "_key": gan.key_pitch,
        "_histogram": gan.critic_histogram,
        "_hold": gan.note_hold,
        "_degrees": gan.scale_degrees,
        "_clock": gan.onset_clock,
        "_per_anchor": gan.clock_per_anchor,
        "_perform": gan.perform_notes,
    }
    return "".join(suffix for suffix, used in on.items() if used)


def make_gan(args: argparse.Namespace, config: ch8.SongConfig, data: SongData) -> int:
    ae = load_song_autoencoder(args.ae_out)
    t0 = time.perf_counter()
    encoded, clips = gan_windows(config, data.train_tunes, ae, step_s=config.window_step_s)
    codec = ch8.frame_codec(config, encoded)
    frames = codec.to_frames(encoded.f0_hz, encoded.loudness_db, encoded.z)
    print(
        f"{len(frames)} training windows of {config.gan.window_frames} frames ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    trainer = ch8.make_gan_trainer(
        config,
        frames,
        args.seed,
        checkpoint_path=args.work / f"gan{_variant(config.gan)}.ckpt",
        codec=codec,
    )
    trainer.loop.resume()
    start = time.perf_counter()

    def show(loop) -> None:
        h = loop.history
        print(
            f"step {loop.step}: W {sum(h['w_distance'][-50:]) / 50:.3f}, gp {h['gp'][-1]:.3f} "
            f"({time.perf_counter() - start:.0f} s)",
            flush=True,
        )

    trainer.loop.callbacks.append(Every(50, show))
    trainer.run(args.steps or config.gan_steps)
    if trainer.step < config.gan_steps:
        print(f"stopped at step {trainer.step} of {config.gan_steps}; run again to continue")
        return 0
    gan = ch8.trained_song_gan(trainer, codec)
    path = save_song_gan(
        gan.generator,
        codec,
        args.gan_out,
        history=trainer.history,
        autoencoder=args.ae_out.name,
        steps=trainer.step,
        train_seconds=round(trainer.loop.seconds, 1),
        seed=args.seed,
        profile=config.profile,
        data=data_meta(config, windows=len(frames), window_step_s=config.window_step_s),
    )
    print(
        f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB) after {trainer.loop.seconds:.0f} s of training",
        flush=True,
    )
    return 0


def evaluate(args: argparse.Namespace, config: ch8.SongConfig, data: SongData) -> int:
    from musicgan_lib.metrics.audio_classifier import load_note_classifier

    t0 = time.perf_counter()
    ae, gan = load_song_autoencoder(args.ae_out), load_song_gan(args.gan_out)
    result = evaluate_songs(config, data, ae, gan, load_note_classifier(), n=args.eval_n, seed=args.seed, progress=True)
    result.update(
        seconds=round(time.perf_counter() - t0, 1),
        gan=args.gan_out.name,
        gan_steps=gan.meta.get("steps"),
        autoencoder=args.ae_out.name,
    )
    args.eval_out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.eval_out} ({result['seconds']:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("autoencoder", "gan", "evaluate"), default=None)
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None, help="stop at this step (default: the profile's)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core for other work)")
    parser.add_argument("--work", type=Path, default=Path("runs/song_models"), help="cache and checkpoint folder")
    parser.add_argument("--ae-out", type=Path, default=ch8.AE_PATH)
    parser.add_argument("--gan-out", type=Path, default=ch8.GAN_PATH)
    parser.add_argument("--eval-out", type=Path, default=ch8.EVAL_PATH)
    parser.add_argument("--eval-n", type=int, default=48, help="clips per row of the evaluation table")
    parser.add_argument("--hard-pitch", action="store_true", help="train the GAN with SongGANConfig(hard_pitch=True)")
    parser.add_argument(
        "--pitch-mode",
        choices=("onehot", "continuous"),
        default=None,
        help="SongGANConfig.pitch_mode of an experiment (onehot alone: attempt 1, shipped until session 20)",
    )
    parser.add_argument(
        "--key-pitch",
        action="store_true",
        help="train the GAN with SongGANConfig(key_pitch=True): one tonic per song, pitches written above it",
    )
    parser.add_argument(
        "--critic-histogram",
        action="store_true",
        help="train the GAN with SongGANConfig(critic_histogram=True): the critic reads each window's sorted pitch classes",
    )
    parser.add_argument(
        "--note-hold",
        action="store_true",
        help="train the GAN with SongGANConfig(note_hold=True) (implies --pitch-mode continuous): pitch held between onsets",
    )
    parser.add_argument(
        "--scale-degrees",
        action="store_true",
        help="train the GAN with SongGANConfig(scale_degrees=True) (implies --note-hold): held degrees of a per-song key",
    )
    parser.add_argument(
        "--onset-clock",
        action="store_true",
        help="train the GAN with SongGANConfig(onset_clock=True) (implies --note-hold): notes start on a clock",
    )
    parser.add_argument(
        "--clock-per-anchor",
        action="store_true",
        help="with --onset-clock: SongGANConfig(clock_per_anchor=True), the clock restarts at every anchor",
    )
    parser.add_argument(
        "--perform-notes",
        action="store_true",
        help="with --note-hold: SongGANConfig(perform_notes=True), loudness and z written after, and from, the notes",
    )
    parser.add_argument(
        "--critic-intervals",
        action="store_true",
        help="train the GAN with SongGANConfig(critic_intervals=True): the critic also sees steps and key",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = ch8.SongConfig.for_profile(args.profile)
    chosen = {name: True for name in OPTIONS if getattr(args, name)}
    if chosen or args.pitch_mode:  # an experiment: attempt 1's one-hot generator, with the options asked for
        chosen["onset_clock"] = chosen.get("onset_clock", False) or args.clock_per_anchor
        chosen["note_hold"] = chosen.get("note_hold", False) or args.scale_degrees or chosen["onset_clock"]
        plain = SongGANConfig()
        gan = {name: getattr(plain, name) for name in ch8.HELD_DEGREES} | chosen
        gan["pitch_mode"] = "continuous" if gan["note_hold"] else (args.pitch_mode or "onehot")
        config = dataclasses.replace(config, gan=dataclasses.replace(config.gan, **gan))
    t0 = time.perf_counter()
    data = load_song_data(config, cache_dir=args.work / "cache")
    print(
        f"{len(data.train_tunes)} training tunes, {len(data.held_out_tunes)} held out; {len(data.clips)} clips of "
        f"{config.ae_clip_s} s ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    if args.only in (None, "autoencoder") and (args.only or not args.ae_out.exists()):
        if make_autoencoder(args, config, data):
            return 1
    if args.only in (None, "gan") and make_gan(args, config, data):
        return 1
    if args.only in (None, "evaluate"):
        return evaluate(args, config, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
