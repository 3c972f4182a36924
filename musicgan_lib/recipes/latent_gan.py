"""Chapter 7's wiring: a GAN that generates encodings, decoded into notes and songs.

The chapter-6 autoencoder is frozen. Every note of a training set (real SoundFont notes by default)
is encoded once into its per-note latent z (`models.note_latents.load_chapter_data`, cached); a
conditional WGAN-GP (`models.latent_gan`) learns p(z | pitch, family); a generated note is the
decoder's output for (generated z, a constant f0 at the requested pitch): `models.latent_gan`'s
`generate_notes`, `generate_song`, `timbre_morph`. Why the per-note latent: z carries timbre,
envelope and loudness, and the pitch is known when we ask for a note, so the GAN models ~16 numbers
per note; vibrato is what a constant f0 loses, and the reconstruction floor measures that loss.
Numbers and floors: `metrics.latent_eval`; figures: `noteplots`; here: config, networks, training, weights.
"""

from __future__ import annotations

import io
import time
from contextlib import nullcontext, redirect_stdout
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from ..data.note_sets import NoteData
from ..data.notes import FAMILIES, PITCH_RANGE
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..metrics.latent_eval import LatentFDTracker, trained_generator
from ..models.latent_gan import LatentCritic, LatentGenerator, LatentSheet, conditional_samplers
from ..models.note_latents import ChapterData, autoencoder_fingerprint, latent_source_key, latent_tensors
from ..models.note_latents import training_instruments
from ..profiles import check_profile
from ..train import Every, GANTrainer, linear_lr_decay
from ..weights import RETRAIN_HINT, LoadedOrTrained, MissingWeightsError, load_weights, read_weights_meta
from ..weights import load_or_train as load_or_train_weights
from ..weights import save_weights, should_load_shipped, weights_path

ASSET_PATH = weights_path("latent_gan", None)  # one file for every profile: only the quick one loads it
MAKE_SCRIPT = "scripts/make_latent_gan_weights.py"
KIND = "latent_gan"


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class LatentGANConfig:
    """Chapter 7's sizes. The defaults are the quick profile (the shipped weights); `FULL` is what the full one changes."""

    profile: str = "quick"  # the profile these sizes belong to: shipped weights must be made for the same one

    # -- data: notes of the SoundFont stream, each encoded once by the frozen chapter-6 autoencoder
    n_train: int = 4000  # notes the GAN learns from
    n_eval: int = 1000  # notes per metric row: the reference, the held-out and every generated set have N each
    data_seed: int = 7  # fixes the note sets, not the run: every SEED sees the same notes
    encode_batch: int = 250  # notes per autoencoder call when encoding or decoding (memory only, not results)

    # -- networks (models.latent_gan): MLPs, small because a latent is 16 numbers
    noise_dim: int = 8  # the latents lie near a 4-6 dimensional surface; more noise dims only add jitter off it
    hidden: int = 256  # units per hidden layer, generator and critic
    layers: int = 3  # hidden layers, generator and critic
    embed_dim: int = 16  # size of the pitch embedding and of the family embedding
    # the generator writes this many numbers per note, which a fitted, frozen sheet decodes into a latent
    # (models.latent_gan.LatentSheet): one picks the place along each (pitch, family)'s surface; 0 = a plain MLP
    sheet_dim: int = 1
    sheet_branches: int = 2  # pieces of the sheet per (pitch, family), one per instrument; the generator picks one
    sheet_steps: int = 8000  # Adam steps fitting the sheet to the training latents before the GAN (~70 CPU s)

    # -- training: chapter 3's WGAN-GP with its official settings, plus an EMA generator
    steps: int = 12000  # generator steps of a whole run (the shipped weights: ~10 CPU-minutes)
    live_steps: int = 150  # generator steps of the short live run the notebook always shows
    batch_size: int = 128  # real latents per critic step
    lr: float = 3e-4  # Adam learning rate of both networks at step 0
    betas: tuple[float, float] = (0.0, 0.9)  # Adam betas of WGAN-GP (no first-moment momentum)
    n_critic: int = 5  # critic steps per generator step
    gp_weight: float = 10.0  # lambda of the gradient penalty
    final_lr_fraction: float = 0.1  # lr decays linearly to this fraction: the end settles samples onto the surface
    ema_decay: float | None = 0.995  # per-step decay of the generator's weight average we sample from (None: off)

    # -- evaluation (metrics.latent_eval)
    ndb_k: int = 50  # k-means bins of NDB, as GANSynth; about 2.5 bins differ by chance at p < 0.05

    @classmethod
    def for_profile(cls, profile: str) -> LatentGANConfig:
        check_profile(profile)
        return replace(cls(), **FULL) if profile == "full" else cls()

    def describe(self) -> str:
        return (
            f"profile {self.profile}: {self.n_train} training notes, N = {self.n_eval} per metric row, "
            f"WGAN-GP (lambda {self.gp_weight:g}, n_critic {self.n_critic}, Adam {self.lr:g} betas {self.betas}), "
            f"batch {self.batch_size}, {self.steps} generator steps for a full run"
        )


# the full profile (a GPU): five times the notes, twice the evaluation N, a longer run that is also the live one
FULL = dict(profile="full", n_train=20000, n_eval=2000, steps=20000, live_steps=20000, batch_size=256)


# --------------------------------------------------------------------------- training


def build_models(latent_dim: int, config: LatentGANConfig) -> tuple[LatentGenerator, LatentCritic]:
    """The conditional generator (noise [B, noise_dim] + condition -> latent [B, latent_dim]) and critic."""
    lo, hi = PITCH_RANGE
    g = LatentGenerator(
        latent_dim, config.noise_dim, config.hidden, config.layers, config.embed_dim, (lo, hi), len(FAMILIES),
        config.sheet_dim, config.sheet_branches,
    )  # fmt: skip
    d = LatentCritic(latent_dim, config.hidden, config.layers, config.embed_dim, (lo, hi), len(FAMILIES))
    return g, d


def make_trainer(
    data: ChapterData,
    config: LatentGANConfig,
    seed: int = 0,
    device: torch.device | str = "cpu",
    *,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
    callbacks: list[Every] | None = None,
    total_steps: int | None = None,
    sheet: LatentSheet | None = None,
) -> GANTrainer:
    """A GANTrainer (WGAN-GP, n_critic, EMA) over the standardised training latents; not yet run.

    The learning rate decays linearly from config.lr to config.final_lr_fraction * lr over
    total_steps (config.steps by default): the last part of training settles the samples onto
    the thin surface the real latents lie on instead of letting them jitter around it. The generator's
    sheet (config.sheet_dim) is fitted first, copied from `sheet`, or restored by the resumed checkpoint.
    """
    rng = seed_everything(seed)
    if not data.notes.real:  # synthetic notes have no instruments: the sheet is one piece
        config = replace(config, sheet_branches=1)
    generator, critic = build_models(data.latent_dim, config)
    generator.set_latent_stats(data.mean, data.std)
    generator, critic = generator.to(device), critic.to(device)
    train, train_x = data.train, generator.from_autoencoder(data.train.z.to(device))
    if generator.sheet is not None and sheet is not None:
        generator.sheet.load_state_dict(sheet.state_dict())
    elif generator.sheet is not None and not (checkpoint_path and Path(checkpoint_path).exists()):  # else: resumed
        branch = training_instruments(data, config) if config.sheet_branches > 1 else None
        generator.fit_sheet(train_x, train.pitch, train.family, config.sheet_steps, seed, branch=branch)
    g_opt = torch.optim.Adam(generator.parameters(), config.lr, betas=config.betas)
    d_opt = torch.optim.Adam(critic.parameters(), config.lr, betas=config.betas)
    sample_real, sample_latent = conditional_samplers(train_x.cpu(), train.pitch, train.family, config.noise_dim)
    schedule = linear_lr_decay([g_opt, d_opt], config.lr, total_steps or config.steps, config.final_lr_fraction)
    return GANTrainer(
        generator,
        critic,
        WassersteinLoss(gp_weight=config.gp_weight),
        g_opt,
        d_opt,
        sample_real,
        sample_latent,
        batch_size=config.batch_size,
        rng=rng,
        device=device,
        n_critic=config.n_critic,
        ema_decay=config.ema_decay,
        checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every,
        callbacks=[schedule, *(callbacks or [])],
        description="latent WGAN-GP",
    )


@dataclass
class TrainResult:
    """A trained (or loaded) latent GAN with its curves: what `load_or_train` returns either way."""

    generator: LatentGenerator
    history: dict[str, list[float]]  # per-step losses ("step", "w_distance", "gp", ...)
    fd_steps: list[int]  # steps at which the latent FD was taken
    latent_fd: list[float]  # FD of generated vs held-out standardised latents at those steps
    seconds: float  # CPU seconds of this process spent training
    steps: int  # generator steps
    trained_on: dict[str, Any]  # the notes it learned from (`NoteData.key()`): is its sheet fitted to these?


def train_latent_gan(
    data: ChapterData,
    config: LatentGANConfig,
    steps: int | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    *,
    track_every: int = 0,
    checkpoint_path: str | Path | None = None,
    checkpoint_every: int = 0,
    quiet: bool = False,
    sheet: LatentSheet | None = None,
) -> TrainResult:
    """Train the conditional latent WGAN-GP for `steps` generator steps (config.steps when None).

    With track_every > 0 the EMA generator's latent FD against the held-out latents is taken every that many
    steps (a progress curve). Resumes from checkpoint_path if it exists. A given `sheet` is used, not fitted.
    """
    steps = config.steps if steps is None else steps
    tracker = LatentFDTracker(data)
    ref: dict = {}
    callbacks = [tracker.callback(ref, track_every)] if track_every else []
    trainer = make_trainer(
        data, config, seed, device, checkpoint_path=checkpoint_path, checkpoint_every=checkpoint_every,
        callbacks=callbacks, total_steps=steps, sheet=sheet,
    )  # fmt: skip
    ref["trainer"] = trainer
    trainer.loop.resume()
    t0 = time.process_time()
    with redirect_stdout(io.StringIO()) if quiet else nullcontext():
        trainer.run(steps)
    seconds, g = time.process_time() - t0, trained_generator(trainer).eval()
    return TrainResult(g, trainer.history, tracker.steps, tracker.values, seconds, steps, data.notes.key())


# --------------------------------------------------------------------------- weights (musicgan_lib.weights)


def save_latent_gan(
    generator: LatentGenerator,
    path: str | Path,
    config: LatentGANConfig,
    data: ChapterData | None = None,
    meta: dict[str, Any] | None = None,
    half: bool = True,
) -> Path:
    """Write the generator (fp16 by default) with the standard metadata (`meta` may give steps and
    train_seconds) and, with `data`, the latents it was trained on (fp16, with the autoencoder
    fingerprint) so the chapter can skip encoding thousands of notes."""
    info = dict(meta or {})
    config = replace(config, sheet_dim=generator.sheet_dim, sheet_branches=generator.branches)  # as it was built
    steps, seconds = info.pop("steps", 0), info.pop("train_seconds", 0.0)
    info["latent_dim"] = generator.latent_dim
    if data is not None:
        info.update(latent_source_key(config, data.fingerprint, data.notes))
    return save_weights(
        path,
        {"generator": generator},
        kind=KIND,
        config=config,
        steps=steps,
        train_seconds=seconds,
        data=data.notes.key() if data is not None else "latents of unrecorded notes",
        half=half,
        tensors=latent_tensors(data) if data is not None else None,
        meta=info,
    )


def load_latent_gan(path: str | Path = ASSET_PATH, device: torch.device | str = "cpu") -> tuple[LatentGenerator, dict]:
    """The shipped (or any saved) latent generator in float32, eval mode; and its metadata."""
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="latent GAN")
    saved = {"sheet_dim": 0, "sheet_branches": 1, **meta["config"]}  # older files: a plain MLP, or one piece
    config = LatentGANConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()})
    generator, _ = build_models(int(meta["latent_dim"]), config)
    load_weights(path, {"generator": generator}, kind=KIND, make_script=MAKE_SCRIPT, device=device)
    return generator, meta


def _check_shipped(path: Path, autoencoder: Any, config: LatentGANConfig, notes: NoteData | None) -> str:
    """The shipped file must be made for this profile on latents of *this* autoencoder (same weights
    fingerprint), else MissingWeightsError names the script that remakes it. Returns what it is."""
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="latent GAN")
    fp = autoencoder_fingerprint(autoencoder)
    remake = f"Remake it with `.venv/bin/python {MAKE_SCRIPT}`. {RETRAIN_HINT}"
    if meta.get("autoencoder") != fp:
        raise MissingWeightsError(
            f"{path} was trained on another autoencoder ({meta.get('autoencoder')} vs {fp}). {remake}"
        )
    if meta.get("config", {}).get("profile") != config.profile:
        raise MissingWeightsError(
            f"{path} is for profile {meta.get('config', {}).get('profile')!r}, not {config.profile!r}. {remake}"
        )
    why = f"{meta.get('steps')} generator steps, trained in {meta.get('train_seconds', 0):.0f} CPU s"
    trained_on = meta.get("note_data", {})
    if trained_on:
        why += f" on {trained_on.get('font', 'synthetic notes')}"
    if notes is not None and trained_on and trained_on != notes.key():
        why += (
            f"; the real notes here are {notes.key().get('font', 'synthetic')}'s, which it never saw: "
            "the table measures how it transfers"
        )
    return why


def shipped_weights_status(
    autoencoder: Any,
    config: LatentGANConfig,
    retrain: bool = False,
    path: str | Path = ASSET_PATH,
    notes: NoteData | None = None,
) -> tuple[bool, str]:
    """(use it, why): load the shipped GAN, or train here.

    Train here when `retrain` is True or the profile ships no weights. Otherwise the file must
    be whole and made for this profile on latents of *this* autoencoder (same weights
    fingerprint); if not, MissingWeightsError names the file and the script that remakes it.
    With `notes` from another font than the one it learned from, it is still used, and `why`
    says so: the table then measures how the generator transfers to that font's notes.
    """
    path = Path(path)
    if not should_load_shipped(path, profile=config.profile, retrain=retrain, make_script=MAKE_SCRIPT, kind=KIND):
        why = "RETRAIN = True" if retrain else f"the {config.profile} profile ships no weights"
        return False, "training here: " + why
    return True, f"{path.name}: {_check_shipped(path, autoencoder, config, notes)}"


def load_or_train(
    autoencoder: Any,
    data: ChapterData,
    config: LatentGANConfig,
    *,
    retrain: bool = False,
    seed: int = 0,
    device: torch.device | str = "cpu",
    save_dir: str | Path | None = None,
    path: str | Path = ASSET_PATH,
) -> LoadedOrTrained[TrainResult]:
    """The shipped GAN with its training curves, or a whole run of config.steps trained here.

    The decision is `weights.load_or_train` (the quick profile loads, unless `retrain`); a loaded
    file must also match this autoencoder and profile (`shipped_weights_status`). A run trained
    here is written to `save_dir`/latent_gan_{profile}.safetensors. `print(result)` says which
    happened (and, when `data` holds notes of another font, that the table measures how the
    shipped GAN transfers to them).
    """
    path = Path(path)
    described: list[str] = []

    def load() -> TrainResult:
        described.append(_check_shipped(path, autoencoder, config, data.notes))
        generator, meta = load_latent_gan(path, device)
        fd = meta.get("latent_fd", {"step": [], "fd": []})
        saved = (meta["train_seconds"], meta["steps"], meta.get("note_data", {}))
        return TrainResult(generator, meta.get("history", {}), fd["step"], fd["fd"], *saved)

    def train() -> TrainResult:
        run = train_latent_gan(data, config, seed=seed, device=device, track_every=max(config.steps // 6, 25))
        if save_dir is not None:
            out = Path(save_dir) / f"latent_gan_{config.profile}.safetensors"
            save_latent_gan(run.generator, out, config, data, {"steps": run.steps, "train_seconds": run.seconds})
        return run

    result = load_or_train_weights(
        path, load=load, train=train, profile=config.profile, retrain=retrain, make_script=MAKE_SCRIPT, kind=KIND
    )
    if described:
        result.how += f": {described[0]}"
    return result
