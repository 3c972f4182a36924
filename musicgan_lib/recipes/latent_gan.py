"""Chapter 7: a GAN that generates encodings, decoded into notes and songs.

The chapter-6 autoencoder is frozen. Every note of a training set (real SoundFont notes by
default, `data.note_sets`; synthetic ones only as the no-font fallback) is encoded once
into its per-note latent z (the latents are cached on disk); a conditional WGAN-GP
(`models.latent_gan`) learns p(z | pitch, family); a generated note is the decoder's output
for (generated z, a constant f0 at the requested pitch). Songs are generated notes placed in
time (`musicgan_lib.songs`).

Why the per-note latent and not the frame-wise controls: z is what the autoencoder uses to
carry timbre, envelope and loudness, and the pitch is known exactly when we ask for a note,
so the GAN only has to model ~16 numbers per note given the condition. A frame-wise control
sequence (hundreds of numbers per note) would need a sequence model and would mostly relearn
the envelope shapes z already summarises; vibrato is the one thing a constant f0 loses, and
the reconstruction floor below measures exactly that loss (it decodes with a constant f0 too).

Evaluation, always with three floors (every row uses the same N notes and the same
conditions, those of a held-out real set):

* ``real``: held-out real audio vs the real reference set — what "indistinguishable" scores;
* ``reconstruction``: the held-out notes encoded and decoded (at constant f0) — the best any
  GAN over these latents can reach, because it is what a *perfect* latent sampler produces;
* ``gaussian``: the trivial baseline. Its latents come from a linear-Gaussian model of the
  standardised training latents: z | (pitch p, family f) ~ N(a_f + b_f * h(p), Sigma), a mean
  that is linear in the pitch height h(p) = (p - 66) / 18 for each family (least squares), and
  one full covariance Sigma shared by all conditions (the pooled residuals). A GAN that
  cannot beat this has learnt nothing a mean and a covariance do not already say.

Metrics: Fréchet distance and KID on the note classifier's 64-d features; pitch accuracy of the
frozen classifier against the requested pitch; family entropy ratio (entropy of the predicted
family histogram over that of the real reference set); NDB over K = 50 k-means bins of the
standardised *training latents*; the nearest-neighbour ratio in standardised latent space
(generated-to-train over held-out-to-train).
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from contextlib import redirect_stdout
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..audio.synth import midi_to_hz
from ..checkpoint import load_checkpoint, read_asset_meta, read_checkpoint_meta, read_tensor_file, save_checkpoint
from ..data.note_sets import NoteData, choose_note_data, note_set
from ..data.notes import FAMILIES, PITCH_RANGE
from ..device import seed_everything
from ..losses import WassersteinLoss
from ..metrics.distribution import NDBBins, entropy_ratio, fit_ndb_bins, ndb, nearest_neighbour_distances
from ..metrics.frechet import frechet_report
from ..models.latent_gan import LatentCritic, LatentGenerator, conditional_samplers, interpolate, slerp
from ..profiles import check_profile
from ..songs import Tune, fit_to_range, render_song
from ..train import Every, GANTrainer, TrainLoop, linear_lr_decay
from ..weights import RETRAIN_HINT, MissingWeightsError, should_load_shipped

ROOT = Path(__file__).resolve().parents[2]
ASSET_PATH = ROOT / "assets" / "latent_gan.safetensors"
MAKE_SCRIPT = "scripts/make_latent_gan_weights.py"
PITCH_HEIGHT_CENTRE, PITCH_HEIGHT_SCALE = 66.0, 18.0

ROW_NAMES = ("real", "reconstruction", "gaussian", "gan")
ROW_LABELS = {
    "real": "held-out real (floor)",
    "reconstruction": "AE reconstructions (floor)",
    "gaussian": "Gaussian baseline",
    "gan": "latent GAN",
}


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class LatentGANConfig:
    """Sizes of chapter 7 for one profile. The data seed fixes the note data set, not the run."""

    profile: str = "quick"
    n_train: int = 4000  # training notes, encoded once
    n_eval: int = 1000  # N of every metric row (reference, held-out and generated sets each have N notes)
    data_seed: int = 7
    noise_dim: int = 8  # the latents lie near a 4-6 dimensional surface; more noise dims only add jitter off it
    hidden: int = 256
    layers: int = 3
    embed_dim: int = 16
    batch_size: int = 128
    lr: float = 3e-4
    betas: tuple[float, float] = (0.0, 0.9)
    n_critic: int = 5
    gp_weight: float = 10.0
    steps: int = 12000  # generator steps of a full training run (the shipped weights)
    live_steps: int = 150  # the short live run the notebook always shows
    final_lr_fraction: float = 0.1  # learning rate decays linearly to this fraction over the run
    ema_decay: float | None = 0.995
    ndb_k: int = 50
    encode_batch: int = 250

    @classmethod
    def for_profile(cls, profile: str) -> LatentGANConfig:
        check_profile(profile)
        if profile == "full":
            return cls(profile="full", n_train=20000, n_eval=2000, steps=20000, live_steps=20000, batch_size=256)
        return cls()

    def describe(self) -> str:
        return (
            f"profile {self.profile}: {self.n_train} training notes, N = {self.n_eval} per metric row, "
            f"WGAN-GP (lambda {self.gp_weight:g}, n_critic {self.n_critic}, Adam {self.lr:g} betas {self.betas}), "
            f"batch {self.batch_size}, {self.steps} generator steps for a full run"
        )


# --------------------------------------------------------------------------- latents


def autoencoder_fingerprint(autoencoder: nn.Module) -> str:
    """A short hash of the autoencoder's weights: latents (and a GAN trained on them) belong to one autoencoder."""
    h = hashlib.sha1()
    for key, value in sorted(autoencoder.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def n_frames(autoencoder: Any) -> int:
    hop = autoencoder.sample_rate // autoencoder.frame_rate
    return -(-autoencoder.n_samples // hop)


def note_duration(autoencoder: Any) -> float:
    return autoencoder.n_samples / autoencoder.sample_rate


def _module_device(module: Any) -> torch.device:
    p = next(module.parameters(), None) if isinstance(module, nn.Module) else None
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def encode_latents(autoencoder: Any, audio: Tensor, batch: int = 250) -> Tensor:
    """Per-note latents z [N, Z] of audio [N, S] (on the CPU)."""
    dev = _module_device(autoencoder)
    return torch.cat([autoencoder.encode(a.to(dev)).z.float().cpu() for a in audio.split(batch)])


@torch.no_grad()
def decode_latents(autoencoder: Any, z: Tensor, pitch: Tensor, batch: int = 250) -> Tensor:
    """Audio [N, S] of latents z [N, Z] played at a constant f0 = midi_to_hz(pitch) (on the CPU)."""
    dev = _module_device(autoencoder)
    frames = n_frames(autoencoder)
    out = []
    for zb, pb in zip(z.split(batch), pitch.split(batch)):
        f0 = midi_to_hz(pb.float()).unsqueeze(1).expand(-1, frames).contiguous()
        out.append(autoencoder.decode(zb.to(dev).float(), f0.to(dev)).float().cpu())
    return torch.cat(out)


@dataclass
class LatentSet:
    """Notes as latents with their labels; audio kept for the evaluation sets."""

    z: Tensor  # [N, Z] autoencoder latents (not standardised)
    pitch: Tensor  # [N] MIDI
    family: Tensor  # [N]
    velocity: Tensor  # [N]
    audio: Tensor | None = None

    def __len__(self) -> int:
        return self.z.shape[0]


@dataclass
class ChapterData:
    """Training latents, a real reference set and a held-out real set (N each, audio kept)."""

    train: LatentSet
    reference: LatentSet
    held_out: LatentSet
    mean: Tensor  # [Z] of the training latents
    std: Tensor  # [Z]
    fingerprint: str
    seconds: float = 0.0
    notes: NoteData = NoteData("synthetic")  # where the notes came from (font or fallback)

    def standardise(self, z: Tensor) -> Tensor:
        return (z - self.mean) / self.std

    @property
    def latent_dim(self) -> int:
        return self.train.z.shape[1]


SET_OFFSET = 1_000_000  # stream positions of the reference and held-out sets: far apart, never overlapping


def _split_offsets(config: LatentGANConfig) -> dict[str, tuple[int, int]]:
    """(n, index_offset) of the three disjoint note sets, all drawn with config.data_seed.

    The two evaluation sets skip every (program, pitch, velocity) of the training set (`unseen_by`),
    so a SoundFont note rendered twice never counts as "held out"; they start a million positions
    apart so that skipping can never make them overlap.
    """
    return {
        "train": (config.n_train, 0),
        "reference": (config.n_eval, SET_OFFSET),
        "held_out": (config.n_eval, 2 * SET_OFFSET),
    }


LATENT_FIELDS = ("z", "pitch", "family", "velocity")


def latent_tensors(data: ChapterData, half: bool = True) -> dict[str, Tensor]:
    """The three sets' latents and labels as flat tensors (for a cache file or the shipped asset)."""
    out = {}
    for name in ("train", "reference", "held_out"):
        s = getattr(data, name)
        for f in LATENT_FIELDS:
            v = getattr(s, f)
            out[f"latents/{name}/{f}"] = (v.half() if half and f == "z" else v).contiguous()
    return out


def _stored_latents(tensors: dict[str, Tensor]) -> dict[str, LatentSet]:
    sets = {}
    for name in ("train", "reference", "held_out"):
        if f"latents/{name}/z" not in tensors:
            return {}
        sets[name] = LatentSet(
            *(
                tensors[f"latents/{name}/{f}"].float() if f == "z" else tensors[f"latents/{name}/{f}"]
                for f in LATENT_FIELDS
            )
        )
    return sets


def _latent_source_key(config: LatentGANConfig, fingerprint: str, notes: NoteData) -> dict[str, Any]:
    return {
        "autoencoder": fingerprint,
        "n_train": config.n_train,
        "n_eval": config.n_eval,
        "data_seed": config.data_seed,
        "note_data": notes.key(),
    }


def load_chapter_data(
    autoencoder: Any,
    config: LatentGANConfig,
    cache_dir: str | Path | None = None,
    asset: str | Path | None = None,
    verbose: bool = True,
    notes: NoteData | None = None,
) -> ChapterData:
    """Make the three note sets and their latents; keep the audio of the two evaluation sets.

    Latents come from the first source that fits: the `asset` file (the shipped latent GAN
    stores the latents it was trained on), then a cache file in `cache_dir`, else the
    autoencoder encodes the notes (and the cache is written). A source fits only when it was
    made by the same autoencoder weights (fingerprint), set sizes and data seed, so a
    retrained autoencoder never meets stale latents. Latents are stored in float16; they are
    rounded through float16 in every case, so all sources give the same numbers.
    `notes` picks the data (`data.note_sets`; default: SoundFont notes when installed).
    """
    start = time.process_time()
    notes_data = notes or choose_note_data("auto")
    fp = autoencoder_fingerprint(autoencoder)
    key = _latent_source_key(config, fp, notes_data)
    duration = note_duration(autoencoder)
    stored: dict[str, LatentSet] = {}
    source = "encoded now"
    if asset is not None and Path(asset).exists():
        meta = read_checkpoint_meta(asset)
        if all(meta.get(k) == v for k, v in key.items()):
            _, extras = load_checkpoint(asset, {})  # checked: header, finite values
            stored = _stored_latents(extras)
            source = f"latents from {Path(asset).name}"
    cache = None
    if cache_dir is not None:
        data_tag = hashlib.sha1(repr(sorted(notes_data.key().items())).encode()).hexdigest()[:8]
        cache = (
            Path(cache_dir) / f"latents_{fp}_{data_tag}_{config.n_train}_{config.n_eval}_{config.data_seed}.safetensors"
        )
        if not stored and cache.exists():
            try:
                stored = _stored_latents(read_tensor_file(cache)[0])
                source = f"latents from {cache.name}"
            except (ValueError, KeyError) as exc:  # a cache is only a shortcut: say so and make it anew
                warnings.warn(f"ignoring the damaged latent cache {cache} ({exc}); encoding the notes again")
                stored = {}
    sets: dict[str, LatentSet] = {}
    for name, (n, offset) in _split_offsets(config).items():
        keep_audio = name != "train"
        if name in stored and not keep_audio:
            sets[name] = stored[name]
            continue
        batch = note_set(
            notes_data,
            n,
            seed=config.data_seed,
            index_offset=offset,
            duration=duration,
            unseen_by=0 if name == "train" else config.n_train,
            sr=autoencoder.sample_rate,
            frame_rate=autoencoder.frame_rate,
        )
        if name in stored:
            z = stored[name].z
            if not torch.equal(stored[name].pitch, batch.pitch):
                raise RuntimeError(
                    f"stored latents of the {name} set do not match the notes (labels differ); delete the cache"
                )
        else:
            z = encode_latents(autoencoder, batch.audio, config.encode_batch).half().float()
        sets[name] = LatentSet(z, batch.pitch, batch.family, batch.velocity, batch.audio if keep_audio else None)
    z = sets["train"].z
    data = ChapterData(
        sets["train"],
        sets["reference"],
        sets["held_out"],
        z.mean(0),
        z.std(0).clamp(min=1e-6),
        fp,
        time.process_time() - start,
        notes_data,
    )
    if cache is not None and not stored:
        from safetensors.torch import save_file

        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file(latent_tensors(data), str(cache))
    if verbose:
        print(
            f"{len(data.train)} training / {len(data.reference)} reference / {len(data.held_out)} held-out notes, "
            f"latent dim {data.latent_dim} ({source})"
        )
    return data


# --------------------------------------------------------------------------- baseline


class GaussianBaseline:
    """z | (pitch, family) ~ N(a_f + b_f * h(pitch), Sigma) on standardised latents (see the module docstring)."""

    def __init__(self, z_std: Tensor, pitch: Tensor, family: Tensor, n_families: int = len(FAMILIES)) -> None:
        z = z_std.double()
        h = pitch_height(pitch).double()
        dim = z.shape[1]
        self.coef = torch.zeros(n_families, 2, dim, dtype=torch.float64)
        residuals = []
        for f in range(n_families):
            m = family == f
            if int(m.sum()) < 3:
                raise ValueError(f"family {FAMILIES[f]} has fewer than 3 training notes; cannot fit the baseline")
            x = torch.stack([torch.ones_like(h[m]), h[m]], dim=1)
            sol = torch.linalg.lstsq(x, z[m]).solution  # [2, dim]
            self.coef[f] = sol
            residuals.append(z[m] - x @ sol)
        r = torch.cat(residuals)
        self.cov = (r.T @ r) / (r.shape[0] - 2 * n_families)
        self.chol = torch.linalg.cholesky(self.cov + 1e-6 * torch.eye(dim, dtype=torch.float64))

    def mean(self, pitch: Tensor, family: Tensor) -> Tensor:
        c = self.coef[family.long()]  # [N, 2, dim]
        return (c[:, 0] + pitch_height(pitch).double().unsqueeze(1) * c[:, 1]).float()

    def sample(self, pitch: Tensor, family: Tensor, generator: torch.Generator | None = None) -> Tensor:
        eps = torch.randn(len(pitch), self.chol.shape[0], generator=generator, dtype=torch.float64)
        return self.mean(pitch, family) + (eps @ self.chol.T).float()


def pitch_height(pitch: Tensor) -> Tensor:
    return (pitch.float() - PITCH_HEIGHT_CENTRE) / PITCH_HEIGHT_SCALE


# --------------------------------------------------------------------------- training


def build_models(latent_dim: int, config: LatentGANConfig) -> tuple[LatentGenerator, LatentCritic]:
    lo, hi = PITCH_RANGE
    g = LatentGenerator(
        latent_dim, config.noise_dim, config.hidden, config.layers, config.embed_dim, (lo, hi), len(FAMILIES)
    )
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
) -> GANTrainer:
    """A GANTrainer (WGAN-GP, n_critic, EMA) over the standardised training latents; not yet run.

    The learning rate decays linearly from config.lr to config.final_lr_fraction * lr over
    total_steps (config.steps by default): the last part of training settles the samples onto
    the thin surface the real latents lie on instead of letting them jitter around it.
    """
    rng = seed_everything(seed)
    generator, critic = build_models(data.latent_dim, config)
    generator.set_latent_stats(data.mean, data.std)
    generator, critic = generator.to(device), critic.to(device)
    g_opt = torch.optim.Adam(generator.parameters(), config.lr, betas=config.betas)
    d_opt = torch.optim.Adam(critic.parameters(), config.lr, betas=config.betas)
    sample_real, sample_latent = conditional_samplers(
        generator.from_autoencoder(data.train.z.to(device)).cpu(), data.train.pitch, data.train.family, config.noise_dim
    )
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


def trained_generator(trainer: GANTrainer) -> LatentGenerator:
    """The generator to sample from: the EMA copy when the trainer keeps one (buffers included)."""
    g = trainer.ema.module if trainer.ema is not None else trainer.generator
    return g


class LatentFDTracker:
    """A cheap progress measure during training: FD between generated and held-out latents (standardised).

    Latent FD needs no decoding or classifier, so it can be taken every few hundred steps; the
    audio metrics come at the end.
    """

    def __init__(self, data: ChapterData, n: int | None = None, seed: int = 1) -> None:
        held = data.held_out
        n = n or len(held)
        self.data = data
        self.pitch, self.family = held.pitch[:n], held.family[:n]
        self.real = data.standardise(held.z[:n])
        self.noise_seed = seed
        self.steps: list[int] = []
        self.values: list[float] = []

    def __call__(self, generator: LatentGenerator) -> float:
        noise = torch.randn(
            len(self.pitch), generator.noise_dim, generator=torch.Generator().manual_seed(self.noise_seed)
        )
        fake = self.data.standardise(generator.sample(self.pitch, self.family, noise).cpu())
        return gaussian_fd(self.real, fake)

    def callback(self, trainer_ref: dict, every: int) -> Every:
        def fn(loop: TrainLoop) -> None:
            self.steps.append(loop.step)
            self.values.append(self(trained_generator(trainer_ref["trainer"])))

        return Every(every, fn)


def gaussian_fd(x: Tensor, y: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two sample sets (float64, via eigenvalues)."""
    x, y = x.double(), y.double()
    mu = x.mean(0) - y.mean(0)
    cx, cy = torch.cov(x.T), torch.cov(y.T)
    # tr sqrt(cx cy) = sum sqrt(eig(sqrt(cx) cy sqrt(cx)))
    ex, vx = torch.linalg.eigh(cx)
    sx = (vx * ex.clamp(min=0).sqrt()) @ vx.T
    m = sx @ cy @ sx
    tr = torch.linalg.eigvalsh((m + m.T) / 2).clamp(min=0).sqrt().sum()
    return float(mu @ mu + torch.trace(cx) + torch.trace(cy) - 2 * tr)


@dataclass
class TrainResult:
    generator: LatentGenerator
    history: dict[str, list[float]]
    fd_steps: list[int]
    latent_fd: list[float]
    seconds: float  # CPU seconds of this process spent training
    steps: int


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
) -> TrainResult:
    """Train the conditional latent WGAN-GP for `steps` generator steps (config.steps when None).

    With track_every > 0 the latent FD of the EMA generator against the held-out latents is
    taken every that many steps (cheap; a progress curve). Resumes from checkpoint_path if it exists.
    """
    steps = config.steps if steps is None else steps
    tracker = LatentFDTracker(data)
    ref: dict = {}
    callbacks = [tracker.callback(ref, track_every)] if track_every else []
    trainer = make_trainer(
        data,
        config,
        seed,
        device,
        checkpoint_path=checkpoint_path,
        checkpoint_every=checkpoint_every,
        callbacks=callbacks,
        total_steps=steps,
    )
    ref["trainer"] = trainer
    trainer.loop.resume()
    t0 = time.process_time()
    if quiet:
        with redirect_stdout(io.StringIO()):
            trainer.run(steps)
    else:
        trainer.run(steps)
    g = trained_generator(trainer)
    g.eval()
    return TrainResult(g, trainer.history, tracker.steps, tracker.values, time.process_time() - t0, steps)


# --------------------------------------------------------------------------- weights


def config_meta(config: LatentGANConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def save_latent_gan(
    generator: LatentGenerator,
    path: str | Path,
    config: LatentGANConfig,
    data: ChapterData | None = None,
    meta: dict[str, Any] | None = None,
    half: bool = True,
) -> Path:
    """Write the generator (fp16 by default), its config and, with `data`, the latents it was trained
    on (fp16, with the autoencoder fingerprint) so the chapter can skip encoding thousands of notes."""
    import copy

    module = copy.deepcopy(generator).cpu()
    if half:
        module = module.half()
    info: dict[str, Any] = {
        "kind": "latent_gan",
        "dtype": "float16" if half else "float32",
        "config": config_meta(config),
        "latent_dim": generator.latent_dim,
        **(meta or {}),
    }
    tensors = {}
    if data is not None:
        info.update(_latent_source_key(config, data.fingerprint, data.notes))
        tensors = latent_tensors(data)
    return save_checkpoint(path, {"generator": module}, tensors=tensors, meta=info)


def load_latent_gan(path: str | Path = ASSET_PATH, device: torch.device | str = "cpu") -> tuple[LatentGenerator, dict]:
    """The shipped (or any saved) latent generator in float32, eval mode; and its metadata."""
    meta = read_asset_meta(
        path,
        "latent GAN",
        f"Build it with `.venv/bin/python {MAKE_SCRIPT}` or train in the notebook.",
        kind="latent_gan",
    )
    cfg = LatentGANConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in meta["config"].items()})
    g, _ = build_models(int(meta["latent_dim"]), cfg)
    load_checkpoint(path, {"generator": g})  # float16 weights are cast into the float32 model
    g.eval()
    return g.to(device), meta


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
    if not should_load_shipped(
        path, profile=config.profile, retrain=retrain, make_script=MAKE_SCRIPT, kind="latent_gan"
    ):
        return False, "training here: " + (
            "RETRAIN = True" if retrain else f"the {config.profile} profile ships no weights"
        )
    meta = read_checkpoint_meta(path)
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
    why = f"{path.name}: {meta.get('steps')} generator steps, trained in {meta.get('train_seconds', 0):.0f} CPU s"
    trained_on = meta.get("note_data", {})
    if trained_on:
        why += f" on {trained_on.get('font', 'synthetic notes')}"
    if notes is not None and trained_on and trained_on != notes.key():
        why += (
            f"; the real notes here are {notes.key().get('font', 'synthetic')}'s, which it never saw: "
            "the table measures how it transfers"
        )
    return True, why


# --------------------------------------------------------------------------- evaluation


@dataclass
class RowMetrics:
    """All metrics of one sample set (one row of the table)."""

    name: str
    fd: float
    kid: float
    kid_std: float
    pitch_accuracy: float
    family_entropy_ratio: float
    ndb: int
    nn_ratio: float


@torch.no_grad()
def judge(classifier: Any, audio: Tensor, batch: int = 250) -> tuple[Tensor, Tensor, Tensor]:
    """(features [N, <=64], pitch_logits [N, 37], family_logits [N, 8]) of the frozen note classifier.

    The chapter-6 NoteClassifier computes features and both heads from one penultimate layer,
    so one forward pass gives all three; any other classifier with `features` and `predict`
    works too (two passes).
    """
    dev = _module_device(classifier)
    fused = all(
        hasattr(classifier, a) for a in ("_raw_features", "feature_mean", "feature_scale", "pitch_head", "family_head")
    )
    if not fused:
        feats = torch.cat([classifier.features(a.to(dev)).float().cpu() for a in audio.split(batch)])
        p, f = classifier.predict(audio, batch)
        return feats, p.float().cpu(), f.float().cpu()
    was = classifier.training
    classifier.eval()
    feats, ps, fs = [], [], []
    try:
        for a in audio.split(batch):
            raw = classifier._raw_features(a.to(dev))
            h = torch.relu(raw)
            feats.append(((raw - classifier.feature_mean) / classifier.feature_scale).float().cpu())
            ps.append(classifier.pitch_head(h).float().cpu())
            fs.append(classifier.family_head(h).float().cpu())
    finally:
        classifier.train(was)
    return torch.cat(feats), torch.cat(ps), torch.cat(fs)


class Evaluator:
    """Computes the floors once (real, reconstruction, Gaussian) and then scores any generator the same way.

    Every row uses N = config.n_eval notes with the held-out set's conditions (pitch, family),
    the same fixed noise seed, and the real reference set as the other side of FD / KID.
    """

    def __init__(
        self,
        autoencoder: Any,
        classifier: Any,
        data: ChapterData,
        config: LatentGANConfig,
        seed: int = 0,
        verbose: bool = True,
        real_draws: int = 3,
    ) -> None:
        t0 = time.process_time()
        self.autoencoder, self.classifier, self.data, self.config, self.seed = (
            autoencoder,
            classifier,
            data,
            config,
            seed,
        )
        self.n = config.n_eval
        held = data.held_out
        self.pitch, self.family = held.pitch, held.family
        self.train_std = data.standardise(data.train.z)
        self.bins: NDBBins = fit_ndb_bins(self.train_std, config.ndb_k, seed=0)
        self.held_std = data.standardise(held.z)
        self.held_nn = float(nearest_neighbour_distances(self.held_std, self.train_std).mean())
        self.ref_feats, _, ref_fam = judge(classifier, data.reference.audio)
        self.ref_family_pred = ref_fam.argmax(1)
        self.rows: dict[str, RowMetrics] = {}
        self.audio: dict[str, Tensor] = {}
        self.latents: dict[str, Tensor] = {}
        held_feats, hp, hf = judge(classifier, held.audio)
        self.held_feats = held_feats
        self.rows["real"] = self._row(
            "real", held.audio, data.standardise(data.reference.z), judged=(held_feats, hp, hf)
        )
        recon = decode_latents(autoencoder, held.z, held.pitch, config.encode_batch)
        self.rows["reconstruction"] = self._row("reconstruction", recon, self.held_std)
        self.baseline = GaussianBaseline(self.train_std, data.train.pitch, data.train.family)
        g_std = self.baseline.sample(self.pitch, self.family, torch.Generator().manual_seed(10_000 + seed))
        audio = decode_latents(autoencoder, g_std * data.std + data.mean, self.pitch, config.encode_batch)
        self.rows["gaussian"] = self._row("gaussian", audio, g_std)
        self.fd_real_spread = self._real_floor_spread(real_draws)
        self.floor_seconds = time.process_time() - t0
        if verbose:
            print(f"floors measured in {self.floor_seconds:.0f} CPU s")

    def _real_floor_spread(self, draws: int) -> float:
        """Standard deviation of the real-vs-real FD over the held-out set and `draws` further real
        sets (same size, fresh notes): how much FD moves from one draw of real notes to the next.
        A GAN "beats" the Gaussian baseline only when it is lower by more than this."""
        fds = [self.rows["real"].fd]
        duration, sr = note_duration(self.autoencoder), self.autoencoder.sample_rate
        for k in range(draws):
            batch = note_set(
                self.data.notes,
                self.n,
                seed=self.config.data_seed,
                index_offset=(3 + k) * SET_OFFSET,
                unseen_by=self.config.n_train,
                duration=duration,
                sr=sr,
                frame_rate=self.autoencoder.frame_rate,
            )
            feats = judge(self.classifier, batch.audio)[0]
            fds.append(
                frechet_report(
                    nn.Identity(), torch.cat([self.ref_feats, feats]), feats, self.n, seed=self.seed
                ).fd_floor
            )
        return float(torch.tensor(fds).std()) if len(fds) > 1 else float("nan")

    def _row(
        self, name: str, audio: Tensor, latents_std: Tensor, judged: tuple[Tensor, Tensor, Tensor] | None = None
    ) -> RowMetrics:
        feats, p_logits, f_logits = judged if judged is not None else judge(self.classifier, audio)
        rep = frechet_report(nn.Identity(), torch.cat([self.ref_feats, self.held_feats]), feats, self.n, seed=self.seed)
        if name == "real":  # the real row *is* the floor: FD of held-out vs reference
            fd, kid, kid_std = rep.fd_floor, rep.kid_floor, float("nan")
        else:
            fd, kid, kid_std = rep.fd, rep.kid, rep.kid_std
        pitch_acc = float((p_logits.argmax(1) + PITCH_RANGE[0] == self.pitch).float().mean())
        ent = entropy_ratio(f_logits.argmax(1), self.ref_family_pred, len(FAMILIES))
        nd = ndb(self.bins, latents_std).ndb
        nn_r = float(nearest_neighbour_distances(latents_std, self.train_std).mean()) / self.held_nn
        self.audio[name] = audio
        self.latents[name] = latents_std
        return RowMetrics(name, fd, kid, kid_std, pitch_acc, ent, nd, nn_r)

    @torch.no_grad()
    def evaluate(self, generator: LatentGenerator, name: str = "gan") -> RowMetrics:
        """Sample N latents for the held-out conditions (fixed noise), decode, and score them."""
        noise = torch.randn(self.n, generator.noise_dim, generator=torch.Generator().manual_seed(20_000 + self.seed))
        z = generator.sample(self.pitch, self.family, noise).cpu()
        audio = decode_latents(self.autoencoder, z, self.pitch, self.config.encode_batch)
        row = self._row(name, audio, self.data.standardise(z))
        self.rows[name] = row
        return row

    def table(self, names: tuple[str, ...] | None = None) -> str:
        """The metric table, floors first."""
        names = names or tuple(n for n in ROW_NAMES if n in self.rows) + tuple(
            n for n in self.rows if n not in ROW_NAMES
        )
        head = f"{'N = ' + str(self.n):28s} {'FD':>8s} {'KID':>8s} {'pitch acc':>9s} {'fam. H ratio':>12s} {'NDB/' + str(self.config.ndb_k):>7s} {'NN ratio':>8s}"
        lines = [head, "-" * len(head)]
        for n in names:
            r = self.rows[n]
            lines.append(
                f"{ROW_LABELS.get(n, n):28s} {r.fd:8.3f} {r.kid:8.4f} {r.pitch_accuracy:9.3f} "
                f"{r.family_entropy_ratio:12.3f} {r.ndb:7d} {r.nn_ratio:8.3f}"
            )
        return "\n".join(lines)

    def records(self, name: str = "gan") -> dict[str, float]:
        """The chapter's recorded numbers for the row `name`."""
        r = self.rows[name]
        return {
            "fd": r.fd,
            "fd_recon_floor": self.rows["reconstruction"].fd,
            "fd_real_floor": self.rows["real"].fd,
            "fd_gaussian_baseline": self.rows["gaussian"].fd,
            "fd_real_floor_spread": self.fd_real_spread,
            "kid": r.kid,
            "pitch_accuracy": r.pitch_accuracy,
            "family_entropy_ratio": r.family_entropy_ratio,
            "ndb": float(r.ndb),
            "nn_ratio": r.nn_ratio,
        }

    def targets(self, name: str = "gan") -> list[tuple[str, str, bool]]:
        """(target name, description with the numbers, passed) for each of the chapter's targets."""
        rec = self.records(name)
        k = self.config.ndb_k
        return [
            (
                "fd <= 2 x fd_recon_floor",
                f"fd {rec['fd']:.2f} <= 2 x fd_recon_floor ({2 * rec['fd_recon_floor']:.2f})",
                rec["fd"] <= 2 * rec["fd_recon_floor"],
            ),
            (
                "fd < fd_gaussian_baseline",
                f"fd {rec['fd']:.2f} < fd_gaussian_baseline ({rec['fd_gaussian_baseline']:.2f})",
                rec["fd"] < rec["fd_gaussian_baseline"],
            ),
            (
                "gaussian - fd > real floor's seed spread",
                f"fd_gaussian_baseline - fd = {rec['fd_gaussian_baseline'] - rec['fd']:.3f} > "
                f"fd_real_floor_spread ({rec['fd_real_floor_spread']:.3f})",
                rec["fd_gaussian_baseline"] - rec["fd"] > rec["fd_real_floor_spread"],
            ),
            (
                "pitch_accuracy >= 0.90",
                f"pitch_accuracy {rec['pitch_accuracy']:.3f} >= 0.90",
                rec["pitch_accuracy"] >= 0.90,
            ),
            (
                "family_entropy_ratio >= 0.95",
                f"family_entropy_ratio {rec['family_entropy_ratio']:.3f} >= 0.95",
                rec["family_entropy_ratio"] >= 0.95,
            ),
            (f"ndb <= 10 of {k}", f"ndb {int(rec['ndb'])} <= 10 of {k}", rec["ndb"] <= 10),
            ("0.8 <= nn_ratio <= 1.2", f"0.8 <= nn_ratio {rec['nn_ratio']:.3f} <= 1.2", 0.8 <= rec["nn_ratio"] <= 1.2),
        ]


# --------------------------------------------------------------------------- notes and songs


def generate_notes(
    generator: LatentGenerator,
    autoencoder: Any,
    pitch: Tensor,
    family: Tensor,
    noise: Tensor | None = None,
    seed: int = 0,
) -> Tensor:
    """Audio [N, S] of generated notes for the given pitches and families."""
    g = torch.Generator().manual_seed(seed)
    z = generator.sample(pitch, family, noise, generator=g).cpu()
    return decode_latents(autoencoder, z, pitch)


def _family_index(family: int | str) -> int:
    return FAMILIES.index(family) if isinstance(family, str) else int(family)


def timbre_noise(noise_dim: int, seed: int) -> Tensor:
    """One noise vector [noise_dim]: with a family, it names a timbre (an instrument) the GAN invents."""
    return torch.randn(noise_dim, generator=torch.Generator().manual_seed(seed))


def generate_song(
    generator: LatentGenerator,
    autoencoder: Any,
    song: Tune,
    family: int | str,
    *,
    seed: int = 0,
    same_timbre: bool = True,
    **render_kw: Any,
) -> tuple[Tensor, Tune]:
    """Render a tune with one generated instrument (same_timbre) or a fresh timbre per note.

    Notes outside the GAN's pitch range are moved by octaves first (with a warning). Returns
    (audio [samples], the tune as played).
    """
    song = fit_to_range(song, *PITCH_RANGE)
    pitch = song.pitches
    fam = torch.full_like(pitch, _family_index(family))
    if same_timbre:
        noise = timbre_noise(generator.noise_dim, seed).expand(len(pitch), -1)
    else:
        noise = torch.randn(len(pitch), generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    notes = generate_notes(generator, autoencoder, pitch, fam, noise)
    return render_song(song, notes, autoencoder.sample_rate, **render_kw), song


def timbre_morph(
    generator: LatentGenerator,
    autoencoder: Any,
    song: Tune,
    timbre_a: tuple[int | str, int],
    timbre_b: tuple[int | str, int],
    *,
    space: str = "latent",
    **render_kw: Any,
) -> tuple[Tensor, Tensor, Tune]:
    """A phrase whose notes slide from timbre A = (family, seed) to timbre B, note by note.

    space="latent": each note's two endpoint latents are generated at the note's own pitch and
    mixed linearly in the (standardised) autoencoder latent space, so A and B may be of
    different families. space="noise": the GAN's noise is slerped and its family input mixed
    (soft one-hot), so the GAN itself produces every in-between timbre.
    Returns (audio, the interpolation weights t [n_notes], the tune as played).
    """
    song = fit_to_range(song, *PITCH_RANGE)
    pitch = song.pitches
    n = len(pitch)
    t = torch.linspace(0, 1, n) if n > 1 else torch.zeros(1)
    fa, fb = _family_index(timbre_a[0]), _family_index(timbre_b[0])
    na, nb = timbre_noise(generator.noise_dim, timbre_a[1]), timbre_noise(generator.noise_dim, timbre_b[1])
    dev = generator.head.weight.device
    with torch.no_grad():
        generator.eval()
        if space == "latent":
            za = generator.generate(na.expand(n, -1).to(dev), pitch.to(dev), torch.full_like(pitch, fa).to(dev))
            zb = generator.generate(nb.expand(n, -1).to(dev), pitch.to(dev), torch.full_like(pitch, fb).to(dev))
            w = t.to(dev).unsqueeze(1)
            z = generator.to_autoencoder((1 - w) * za + w * zb)
        elif space == "noise":
            noise = slerp(na.expand(n, -1), nb.expand(n, -1), t)
            onehot = torch.zeros(n, len(FAMILIES))
            onehot[:, fa] += 1 - t
            onehot[:, fb] += t
            z = generator.to_autoencoder(generator.generate(noise.to(dev), pitch.to(dev), onehot.to(dev)))
        else:
            raise ValueError(f"unknown space {space!r}: use 'latent' or 'noise'")
    audio = render_song(song, decode_latents(autoencoder, z.cpu(), pitch), autoencoder.sample_rate, **render_kw)
    return audio, t, song


__all__ = [
    "ASSET_PATH",
    "ChapterData",
    "Evaluator",
    "GaussianBaseline",
    "LatentGANConfig",
    "LatentSet",
    "RowMetrics",
    "TrainResult",
    "decode_latents",
    "encode_latents",
    "gaussian_fd",
    "generate_notes",
    "generate_song",
    "interpolate",
    "load_chapter_data",
    "load_latent_gan",
    "make_trainer",
    "save_latent_gan",
    "shipped_weights_status",
    "timbre_morph",
    "train_latent_gan",
]


# --------------------------------------------------------------------------- plots


def plot_training(
    history: dict[str, list[float]],
    latent_fd: tuple[list[int], list[float]] | None = None,
    title: str = "",
    floor: float | None = None,
):
    """Critic's Wasserstein estimate and penalty over steps, and (optionally) the latent FD curve."""
    import matplotlib.pyplot as plt

    n = 2 if latent_fd else 1
    fig, axes = plt.subplots(1, n, figsize=(max(9.0, 3.3 * n), 3.0), squeeze=False)
    ax = axes[0, 0]
    steps = history["step"]
    ax.plot(steps, history["w_distance"], lw=0.8, label="W estimate")
    ax.plot(steps, history["gp"], lw=0.8, label="gradient penalty")
    ax.set(xlabel="generator step", title=title or "critic")
    ax.legend()
    if latent_fd:
        ax = axes[0, 1]
        ax.plot(latent_fd[0], latent_fd[1], marker="o", ms=3)
        if floor is not None:
            ax.axhline(floor, ls="--", c="0.5", lw=0.8, label="held-out vs reference")
            ax.legend()
        ax.set(xlabel="generator step", ylabel="latent FD", yscale="log", title="FD in latent space")
    return fig


def plot_latent_map(latents: dict[str, Tensor], families: dict[str, Tensor], reference: Tensor):
    """Each sample set's standardised latents projected on the first two principal axes of `reference`."""
    import matplotlib.pyplot as plt

    mean = reference.mean(0)
    _, _, v = torch.linalg.svd(reference - mean, full_matrices=False)
    fig, axes = plt.subplots(
        1, len(latents), figsize=(max(9.0, 3.0 * len(latents)), 3.2), sharex=True, sharey=True, squeeze=False
    )
    for ax, (name, z) in zip(axes[0], latents.items()):
        xy = (z - mean) @ v[:2].T
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=families[name], cmap="tab10", vmin=0, vmax=9, s=2, alpha=0.6)
        ax.set(title=name, xticks=[], yticks=[])
    handles = [plt.Line2D([], [], marker="o", ls="", color=sc.cmap(sc.norm(i)), ms=4) for i in range(len(FAMILIES))]
    fig.legend(handles, FAMILIES, loc="outside right center", fontsize=9)
    return fig


def plot_nn_check(evaluator: Evaluator, names: tuple[str, ...] = ("real", "gaussian", "gan")):
    """Distances to the nearest training latent: a copier would pile up at 0."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    held = nearest_neighbour_distances(evaluator.held_std, evaluator.train_std)
    bins = torch.linspace(0, float(held.max()) * 1.5, 40).numpy()
    ax.hist(held.numpy(), bins=bins, histtype="step", label="held-out real", color="k")
    for name in names:
        if name in evaluator.latents and name != "reconstruction":
            d = nearest_neighbour_distances(evaluator.latents[name], evaluator.train_std)
            ax.hist(d.numpy(), bins=bins, histtype="step", label=ROW_LABELS.get(name, name))
    ax.set(xlabel="distance to nearest training latent", ylabel="notes")
    ax.legend()
    return fig


def plot_ndb_bins(evaluator: Evaluator, name: str = "gan"):
    """Training vs generated share of each k-means bin; significantly different bins in red."""
    import matplotlib.pyplot as plt

    res = ndb(evaluator.bins, evaluator.latents[name])
    order = torch.as_tensor(res.train_proportions).argsort(descending=True).numpy()
    fig, ax = plt.subplots(figsize=(9.0, 3.0))
    x = range(res.k)
    ax.bar(x, res.train_proportions[order], color="0.75", label="training share")
    colors = ["tab:red" if s else "tab:blue" for s in res.significant[order]]
    ax.scatter(x, res.sample_proportions[order], c=colors, s=8, zorder=3, label=f"{ROW_LABELS.get(name, name)} share")
    ax.set(xlabel="k-means bin (sorted by training share)", ylabel="share", title=res.summary(), xticks=[])
    ax.legend()
    return fig
