"""Chapter 6: training and measuring the DDSP note autoencoder.

What the notebook calls: `AutoencoderConfig.for_profile`, `note_source` (the training notes),
`train_autoencoder` (on `TrainLoop`: progress, NaN stop, checkpoints with RNG state, resume),
`evaluate` (every recorded metric on held-out notes) and `load_or_train`.

Data (`data.note_sets`). By default real instrument notes rendered from a SoundFont: a fixed
set of `soundfont_notes` notes is rendered once (~2 ms a note), cached in `runs/06/` and sampled
with the loop's generator, so a resumed run draws exactly the batches an uninterrupted one would.
Held-out notes come from far along the same stream (`index_offset = HELD_OUT_OFFSET`) and skip
every (program, pitch, velocity) of the training set. Without a SoundFont the fallback is the
synthetic stream: step t draws notes t·B .. t·B + B - 1 (`make_notes(B, seed, index_offset=t·B)`).
Sample tuning: the f0 labels are the equal-tempered frequency of the MIDI pitch. fluidsynth
applies each sample's root key and fine tune from the font, and CREPE measures the rendered
notes of both Debian fonts at a median +5 cents from those labels, so the labels stand as they are.

Loss. Multi-scale spectral loss (FFT 2048..64, 75 % overlap, L1 on magnitude and log
magnitude) on the reconstruction decoded from the **labelled** f0 curve, plus the f0
supervision of the encoder (pitch-class cross-entropy and an L1 on the per-frame offset in
semitones, both against the data's labels), plus a loudness term (L1 of A-weighted frame
loudness over the sounding frames, `loudness_weight` per dB; not in DDSP, but the spectral
loss alone left the quick model ~2 dB off in loudness), plus a small L2 pull on z so the
latents stay in a GAN-friendly range.
"""

from __future__ import annotations

import functools
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .. import distributed
from ..audio.synth import midi_to_hz
from ..data.note_sets import NoteData, choose_note_data, note_set
from ..data.notes import NoteBatch, make_notes
from ..device import seed_everything, torch_threads
from ..losses_audio import MultiScaleSpectralLoss
from ..metrics.audio import MeanNoteBaseline, f0_report, loudness_l1_db, mss_by_phase, mss_distance, sounding_frames
from ..models.ddsp_autoencoder import (
    ASSET_PATH as AUTOENCODER_PATH,
    MAKE_SCRIPT as AUTOENCODER_SCRIPT,
    DDSPConfig,
    NoteAutoencoder,
    f0_supervision_loss,
    load_autoencoder,
    save_autoencoder,
)
from ..profiles import check_profile
from ..train import Every, TrainLoop
from ..weights import should_load_shipped

__all__ = [
    "AUTOENCODER_PATH",
    "HELD_OUT_OFFSET",
    "AutoencoderConfig",
    "AutoencoderRun",
    "AutoencoderReport",
    "NoteSource",
    "evaluate",
    "fit_baseline",
    "held_out_notes",
    "load_autoencoder",
    "load_or_train",
    "note_data",
    "note_source",
    "phase_errors",
    "replace_config",
    "save_autoencoder",
    "train_autoencoder",
]

HELD_OUT_OFFSET = 5_000_000  # index offset of evaluation notes: no training stream gets there
BASELINE_OFFSET = 4_000_000  # the notes the mean-note baseline is fitted on (training-like, not held out)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything a chapter-6 run needs; `for_profile` picks the sizes."""

    steps: int
    batch_size: int = 16
    lr: float = 1e-3
    final_lr_fraction: float = 0.05
    warmup_steps: int = 100
    clip_grad: float = 3.0
    model: DDSPConfig = field(default_factory=DDSPConfig)
    pitch_weight: float = 1.0
    offset_weight: float = 5.0
    loudness_weight: float = 0.2
    z_weight: float = 1e-3
    eval_notes: int = 256
    baseline_notes: int = 1024
    live_steps: int = 40
    source: str = "auto"  # "auto": real SoundFont notes when installed, else synthetic (with a warning)
    soundfont: str | None = None  # the training font; None: TimGM6mb (or $MUSICGAN_SF2), as shipped
    soundfont_notes: int = 4096  # the fixed training set (~8 passes in the quick profile's 2000 x 16 notes)
    checkpoint_every: int = 500
    cpu_threads: int | None = 1  # torch threads on a CPU device (None: leave torch's setting)

    @classmethod
    def for_profile(cls, profile: str) -> "AutoencoderConfig":
        check_profile(profile)
        if profile == "full":
            return cls(
                steps=30_000,
                batch_size=32,
                cpu_threads=None,
                lr=1e-3,
                eval_notes=1024,
                baseline_notes=4096,
                live_steps=200,
                model=DDSPConfig(hidden=512, decoder_layers=4, encoder_channels=192, n_harmonics=64),
            )
        return cls(steps=2000)


def replace_config(config: AutoencoderConfig, **changes) -> AutoencoderConfig:
    """A copy of `config` with some fields changed (model fields may be given as model=DDSPConfig(...))."""
    return replace(config, **changes)


# ------------------------------------------------------------------------------------ data
class NoteSource:
    """Training notes for step t: a batch drawn from a fixed SoundFont set, or fresh synthetic notes."""

    def __init__(self, data: NoteData, batch_size: int, seed: int, fixed: NoteBatch | None = None) -> None:
        self.data, self.batch_size, self.seed, self.fixed = data, batch_size, seed, fixed

    def __call__(self, step: int, rng: torch.Generator) -> NoteBatch:
        if self.fixed is None:
            return make_notes(self.batch_size, seed=self.seed, index_offset=step * self.batch_size)
        idx = torch.randint(len(self.fixed), (self.batch_size,), generator=rng)
        return self.fixed[idx]


def note_data(config: AutoencoderConfig, warn: bool = True) -> NoteData:
    """The notes `config` asks for: SoundFont notes when installed ("auto"), else the synthetic fallback."""
    return choose_note_data(config.source, config.soundfont, warn=warn)


def note_source(
    config: AutoencoderConfig, seed: int = 0, cache_dir: str | Path | None = None, data: NoteData | None = None
) -> NoteSource:
    """The training notes: a fixed set of `config.soundfont_notes` SoundFont notes (cached in
    `runs/06/`), or the endless synthetic stream when `data` is the fallback."""
    data = data or note_data(config)
    if not data.real:
        return NoteSource(data, config.batch_size, seed)
    from ..paths import output_dir

    notes = note_set(data, config.soundfont_notes, seed=seed, cache_dir=cache_dir or output_dir("06"))
    return NoteSource(data, config.batch_size, seed, notes)


def held_out_notes(
    n: int, data: NoteData, seed: int = 0, unseen_by: int = 0, cache_dir: str | Path | None = None
) -> NoteBatch:
    """Evaluation notes nobody trained on: index offset HELD_OUT_OFFSET of the seed's stream and,
    with `unseen_by` = the training set's size, no (program, pitch, velocity) the model heard."""
    from ..paths import output_dir

    return note_set(
        data,
        n,
        seed=seed,
        index_offset=HELD_OUT_OFFSET,
        unseen_by=unseen_by,
        cache_dir=(cache_dir or output_dir("06")) if data.real else None,
    )


# ------------------------------------------------------------------------------------ training
@dataclass
class AutoencoderRun:
    model: NoteAutoencoder
    history: dict[str, list[float]]
    seconds: float
    loop: TrainLoop | None = None


def _threads(config: AutoencoderConfig, device: str | torch.device | None):
    """One torch thread on CPU by default: this model is many small ops, and on a busy 2-core
    machine every op's OpenMP barrier waits for a descheduled thread (measured several times
    slower with 2 threads while other processes ran); on an idle machine 1 and 2 are close."""
    on_cpu = device is None or torch.device(device).type == "cpu"
    return torch_threads(config.cpu_threads) if (on_cpu and config.cpu_threads) else nullcontext()


def _lr_schedule(optimizer: torch.optim.Optimizer, config: AutoencoderConfig, total: int) -> Every:
    """Linear warm-up, then linear decay to final_lr_fraction; a pure function of the step (resumable)."""

    warmup = max(1, min(config.warmup_steps, total // 5))  # short (live) runs warm up quickly

    def set_lr(loop: TrainLoop) -> None:
        s = loop.step
        if s < warmup:
            frac = (s + 1) / warmup
        else:
            frac = 1.0 - (1.0 - config.final_lr_fraction) * min((s - warmup) / max(total - warmup, 1), 1.0)
        for group in optimizer.param_groups:
            group["lr"] = config.lr * frac

    return Every(1, set_lr, at_end=False)


def make_trainer(
    config: AutoencoderConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    model: NoteAutoencoder | None = None,
    checkpoint_path: str | Path | None = None,
    source: NoteSource | None = None,
    total_steps: int | None = None,
    callbacks: list[Every] | None = None,
) -> tuple[NoteAutoencoder, TrainLoop]:
    """Build the model, optimizer and `TrainLoop` (not run yet). The step is documented in the module."""
    rng = seed_everything(seed)
    dev = torch.device(device)
    model = (model or NoteAutoencoder(config.model)).to(dev)
    source = source or note_source(config, seed)
    mss = MultiScaleSpectralLoss()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    total = total_steps or config.steps

    def step(loop: TrainLoop) -> dict[str, Tensor]:
        notes = distributed.shard(source(loop.step, loop.rng)).to(dev)  # this rank's share (torchrun)
        audio = notes.audio
        logits, offset, z = model.encoder(audio, notes.loudness_db)
        recon = model.decode(z, notes.f0_hz)
        spectral = mss(recon, audio)
        ce, l1 = f0_supervision_loss(logits, offset, notes.f0_hz, notes.pitch, sounding_frames(notes.loudness_db))
        z_pen = z.pow(2).mean()
        sounding = sounding_frames(notes.loudness_db).to(audio.dtype)
        loud_err = (model.measure_loudness(recon) - notes.loudness_db).abs()
        loud_l1 = (loud_err * sounding).sum() / sounding.sum().clamp(min=1.0)
        loss = (
            spectral
            + config.pitch_weight * ce
            + config.offset_weight * l1
            + config.z_weight * z_pen
            + config.loudness_weight * loud_l1
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        distributed.average_gradients(model)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
        opt.step()
        return distributed.average_scalars(
            {
                "loss": loss.detach(),
                "mss": spectral.detach(),
                "pitch_ce": ce.detach(),
                "f0_offset_l1": l1.detach(),
                "loudness_l1": loud_l1.detach(),
                "z_rms": z_pen.detach().sqrt(),
            }
        )

    loop = TrainLoop(
        step,
        {"autoencoder": model},
        {"adam": opt},
        rng=rng,
        checkpoint_path=checkpoint_path,
        checkpoint_every=config.checkpoint_every if checkpoint_path else 0,
        callbacks=[_lr_schedule(opt, config, total), *(callbacks or [])],
        description="DDSP autoencoder",
        meta={"config": asdict(config.model), "seed": seed},
    )
    return model, loop


def train_autoencoder(
    config: AutoencoderConfig,
    seed: int = 0,
    device: str | torch.device = "cpu",
    stop_at: int | None = None,
    checkpoint_path: str | Path | None = None,
    log: bool = False,
    model: NoteAutoencoder | None = None,
    source: NoteSource | None = None,
) -> AutoencoderRun:
    """Train (or resume from `checkpoint_path`) to config.steps; model in eval mode after.

    `stop_at` ends the run early at that step (the learning-rate schedule still spans
    config.steps, so stopping and resuming gives the same model as one uninterrupted run).
    For a short run of its own, shorten the config: `replace_config(config, steps=40)`.
    """
    total = config.steps
    model, loop = make_trainer(config, seed, device, model, checkpoint_path, source, total)
    t_start = time.perf_counter()
    if log:

        def show(lp: TrainLoop) -> None:
            h = lp.history
            print(
                f"step {lp.step:6d}  mss {sum(h['mss'][-50:]) / len(h['mss'][-50:]):.3f}  "
                f"pitch_ce {h['pitch_ce'][-1]:.3f}  f0_l1 {h['f0_offset_l1'][-1]:.3f}  "
                f"loud_l1 {sum(h['loudness_l1'][-50:]) / len(h['loudness_l1'][-50:]):.2f}  "
                f"z_rms {h['z_rms'][-1]:.2f}  {time.perf_counter() - t_start:.0f}s",
                flush=True,
            )

        loop.callbacks.append(Every(max(min(total // 20, 100), 1), show))
    loop.resume()
    with _threads(config, device):
        loop.run(min(stop_at or total, total))
    model.eval()
    return AutoencoderRun(model, loop.history, loop.seconds, loop)


# ------------------------------------------------------------------------------------ evaluation
@dataclass
class AutoencoderReport:
    """Every chapter-6 number on one set of held-out notes."""

    n: int
    f0_median_cents: float
    f0_within_50c: float
    loudness_l1_db: float
    mss_model: float
    mss_baseline: float
    recon_pitch_accuracy: float
    real_pitch_accuracy: float
    recon_family_accuracy: float
    real_family_accuracy: float
    seconds: float = 0.0

    @property
    def mss_ratio(self) -> float:
        return self.mss_model / self.mss_baseline

    def as_dict(self) -> dict[str, float]:
        d = asdict(self)
        d["mss_ratio"] = self.mss_ratio
        return d

    def records(self) -> dict[str, float]:
        """The six numbers the chapter records."""
        return {
            "f0_median_cents": self.f0_median_cents,
            "f0_within_50c": self.f0_within_50c,
            "loudness_l1_db": self.loudness_l1_db,
            "mss_ratio": self.mss_ratio,
            "recon_pitch_accuracy": self.recon_pitch_accuracy,
            "real_pitch_accuracy": self.real_pitch_accuracy,
        }

    def summary(self) -> str:
        return (
            f"held-out notes: {self.n}\n"
            f"f0: median error {self.f0_median_cents:.2f} cents, {100 * self.f0_within_50c:.1f}% of sounding frames within 50 cents\n"
            f"loudness L1: {self.loudness_l1_db:.2f} dB (A-weighted frames)\n"
            f"multi-scale spectral distance: model {self.mss_model:.3f} vs mean-note-of-same-pitch baseline "
            f"{self.mss_baseline:.3f} (ratio {self.mss_ratio:.3f})\n"
            f"classifier on reconstructions: pitch {100 * self.recon_pitch_accuracy:.1f}%, family "
            f"{100 * self.recon_family_accuracy:.1f}% | on the real notes: pitch {100 * self.real_pitch_accuracy:.1f}%, "
            f"family {100 * self.real_family_accuracy:.1f}%"
        )

    def targets(self, profile: str) -> dict[str, bool]:
        """{"f0_median_cents < 20": passed, ...}: the chapter's targets for `profile`, for `record.check_targets`."""
        full = profile == "full"
        checks = [
            ("f0_median_cents", self.f0_median_cents, "<", 5.0 if full else 20.0),
            ("f0_within_50c", self.f0_within_50c, ">=", 0.95),
            ("loudness_l1_db", self.loudness_l1_db, "<", 0.5 if full else 1.5),
            ("mss_ratio", self.mss_ratio, "<=", 0.25 if full else 0.5),
            ("recon_pitch_accuracy gap", self.real_pitch_accuracy - self.recon_pitch_accuracy, "<=", 0.05),
        ]
        outcomes = {}
        for name, value, op, target in checks:
            ok = value < target if op == "<" else (value >= target if op == ">=" else value <= target)
            outcomes[f"{name} {op} {target:g}"] = bool(ok)
        return outcomes


def fit_baseline(n: int, data: NoteData | None = None, seed: int = 0) -> MeanNoteBaseline:
    """The mean-note-of-the-same-pitch baseline, fitted on n training notes of `data`
    (SoundFont: the first n of the training set; synthetic: a training-like stretch of the stream)."""
    data = data or NoteData("synthetic")
    return MeanNoteBaseline().fit(*_baseline_notes(n, data, seed))


@functools.lru_cache(maxsize=2)  # one chapter run asks for them four times (two fonts x MSS and phases)
def _baseline_notes(n: int, data: NoteData, seed: int) -> tuple[Tensor, Tensor]:
    notes = note_set(data, n, seed=seed, index_offset=0 if data.real else BASELINE_OFFSET)
    return notes.audio, notes.pitch


def phase_errors(
    notes: NoteBatch, recon: Tensor, config: AutoencoderConfig, data: NoteData, seed: int = 0
) -> dict[str, dict[str, float]]:
    """MSS of the reconstructions per note phase (attack 0-0.1 s, sustain to the key release,
    release after it), each next to a mean-note baseline fitted on that phase of training notes.

    notes: held-out NoteBatch [N, S]; recon: its reconstructions [N, S]. See `metrics.audio.mss_by_phase`.
    """
    base_audio, base_pitch = _baseline_notes(config.baseline_notes, data, seed)
    hold = float(notes.extras.get("hold_s", 0.75 * notes.audio.shape[-1] / notes.sr))
    return mss_by_phase(recon, notes.audio, notes.pitch, base_audio, base_pitch, notes.sr, hold)


@torch.no_grad()
def reconstruct(
    model: NoteAutoencoder, audio: Tensor, batch_size: int = 64, f0_hz: Tensor | None = None
) -> tuple[Tensor, Tensor, Tensor]:
    """(reconstructions, encoder f0 [N, F], z [N, Z]) on the CPU, batched, in eval mode.

    With `f0_hz` the decoder uses that pitch curve instead of the encoder's (e.g. the labels).
    """
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    outs, f0s, zs = [], [], []
    try:
        for i in range(0, audio.shape[0], batch_size):
            enc = model.encode(audio[i : i + batch_size].to(dev))
            f0 = enc.f0_hz if f0_hz is None else f0_hz[i : i + batch_size].to(dev)
            outs.append(model.decode(enc.z, f0, noise_seed=i).cpu())
            f0s.append(enc.f0_hz.cpu())
            zs.append(enc.z.cpu())
    finally:
        model.train(was)
    return torch.cat(outs), torch.cat(f0s), torch.cat(zs)


def evaluate(
    model: NoteAutoencoder,
    config: AutoencoderConfig,
    n: int | None = None,
    device: str | torch.device | None = None,
    notes: NoteBatch | None = None,
    classifier=None,
    baseline: MeanNoteBaseline | None = None,
    seed: int = 0,
    outputs: tuple[Tensor, Tensor, Tensor] | None = None,
) -> AutoencoderReport:
    """All chapter-6 metrics on held-out notes (the encoder's own f0 drives the decoder).

    `outputs` = `reconstruct(model, notes.audio)` when the caller already has them.
    """
    dev = device if device is not None else next(model.parameters()).device
    with _threads(config, dev):
        return _evaluate(model, config, n, device, notes, classifier, baseline, seed, outputs)


def _evaluate(model, config, n, device, notes, classifier, baseline, seed, outputs) -> AutoencoderReport:
    from ..metrics.audio_classifier import load_note_classifier, note_accuracy

    t0 = time.perf_counter()
    if device is not None:
        model = model.to(device)
    data = note_data(config, warn=False)
    notes = notes if notes is not None else held_out_notes(n or config.eval_notes, data, seed, config.soundfont_notes)
    recon, f0, _ = outputs if outputs is not None else reconstruct(model, notes.audio)
    mask = sounding_frames(notes.loudness_db)
    f0r = f0_report(f0, notes.f0_hz, mask)
    loud = float(loudness_l1_db(recon, notes.audio, model.sample_rate, model.hop, notes.f0_hz.shape[-1]).mean())
    mss_model = float(mss_distance(recon, notes.audio).mean())
    if baseline is None:
        baseline = fit_baseline(config.baseline_notes, data, seed)
    mss_base = float(baseline.distance(notes.audio, notes.pitch).mean())
    classifier = classifier or load_note_classifier()
    acc_real = note_accuracy(classifier, notes.audio, notes.pitch, notes.family)
    acc_recon = note_accuracy(classifier, recon, notes.pitch, notes.family)
    return AutoencoderReport(
        n=len(notes),
        f0_median_cents=f0r.median_cents,
        f0_within_50c=f0r.within_50c,
        loudness_l1_db=loud,
        mss_model=mss_model,
        mss_baseline=mss_base,
        recon_pitch_accuracy=acc_recon["pitch"],
        real_pitch_accuracy=acc_real["pitch"],
        recon_family_accuracy=acc_recon["family"],
        real_family_accuracy=acc_real["family"],
        seconds=time.perf_counter() - t0,
    )


def load_or_train(
    config: AutoencoderConfig,
    profile: str,
    seed: int = 0,
    device: str | torch.device = "cpu",
    retrain: bool = False,
    checkpoint_path: str | Path | None = None,
) -> tuple[NoteAutoencoder, AutoencoderRun | None]:
    """The shipped model when the profile ships one and retrain is False; otherwise train (resumable).

    The shipped model was trained on TimGM6mb notes; it is loaded whatever `config.source` says
    (its metadata names its data), so a run on another font or on the synthetic fallback
    measures how it generalises rather than training for an hour.
    In the quick profile a missing or damaged shipped file is an error (MissingWeightsError) that
    names the script that makes it, not hours of silent retraining.
    """
    if should_load_shipped(
        AUTOENCODER_PATH, profile=profile, retrain=retrain, make_script=AUTOENCODER_SCRIPT, kind="note_autoencoder"
    ):
        return load_autoencoder(device), None
    run = train_autoencoder(config, seed, device, checkpoint_path=checkpoint_path)
    run.model.requires_grad_(False)
    return run.model, run


def constant_f0(pitch: Tensor, n_frames: int) -> Tensor:
    """The pitch curve of a generated note: midi_to_hz(pitch) held for n_frames, [N, n_frames]."""
    return midi_to_hz(pitch.float())[:, None].expand(-1, n_frames).contiguous()
