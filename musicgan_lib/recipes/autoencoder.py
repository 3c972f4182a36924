"""Chapter 6's wiring: training the DDSP note autoencoder, and its shipped weights.

What the notebook calls: `AutoencoderConfig.for_profile`, `note_source` (the training notes),
`train_autoencoder` (on `TrainLoop`: progress, NaN stop, checkpoints with RNG state, resume) and
`load_or_train` (the shipped model or a run here, through `musicgan_lib.weights`). The numbers
it records come from `metrics.note_autoencoder_eval` (`evaluate`, `phase_errors`), the
held-out notes from `data.note_sets.held_out_notes`.

Data (`data.note_sets`). By default real instrument notes rendered from a SoundFont: a fixed
set of `soundfont_notes` notes is rendered once (~2 ms a note), cached in `runs/06/` and sampled
with the loop's generator, so a resumed run draws exactly the batches an uninterrupted one would.
Held-out notes come from far along the same stream (`HELD_OUT_OFFSET`) and skip every
(program, pitch, velocity) of the training set. Without a SoundFont the fallback is the
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

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from .. import distributed
from ..data.note_sets import NoteData, NoteSource, choose_note_data, note_set
from ..device import seed_everything
from ..losses_audio import MultiScaleSpectralLoss
from ..metrics.audio import sounding_frames
from ..models.ddsp_autoencoder import ASSET_PATH as AUTOENCODER_PATH
from ..models.ddsp_autoencoder import MAKE_SCRIPT as AUTOENCODER_SCRIPT
from ..models.ddsp_autoencoder import (
    DDSPConfig,
    NoteAutoencoder,
    cpu_threads_for,
    f0_supervision_loss,
    load_autoencoder,
)
from ..profiles import check_profile
from ..train import Every, TrainLoop
from ..weights import LoadedOrTrained
from ..weights import load_or_train as load_or_train_weights


@dataclass(frozen=True)
class AutoencoderConfig:
    """Everything a chapter-6 run needs. The defaults are the quick profile (the shipped model);
    `FULL` is what the full profile changes."""

    # -- data (data.note_sets)
    source: str = "auto"  # "auto": real SoundFont notes when installed, else synthetic (with a warning)
    soundfont: str | None = None  # the training font; None: TimGM6mb (or $MUSICGAN_SF2), as shipped
    soundfont_notes: int = 4096  # notes in the fixed training set (~8 passes in 2000 steps x 16 notes)

    # -- the model (models.ddsp_autoencoder): 16 numbers of z per note, 48 harmonics, 65 noise bands
    model: DDSPConfig = field(default_factory=DDSPConfig)

    # -- optimisation
    steps: int = 2000  # Adam steps of a whole run (the shipped model: ~14 minutes on one CPU thread)
    batch_size: int = 16  # notes per step
    lr: float = 1e-3  # peak Adam learning rate
    warmup_steps: int = 100  # linear warm-up to lr (a fifth of the run at most, for short live runs)
    final_lr_fraction: float = 0.05  # then a linear decay to this fraction of lr at the last step
    clip_grad: float = 3.0  # max gradient norm: the spectral loss has rare large gradients early on

    # -- loss weights (per unit of the MSS loss)
    pitch_weight: float = 1.0  # pitch-class cross-entropy of the encoder (nats)
    offset_weight: float = 5.0  # L1 of the encoder's per-frame f0 offset (semitones)
    loudness_weight: float = 0.2  # L1 of A-weighted frame loudness over sounding frames (dB)
    z_weight: float = 1e-3  # L2 pull of z towards 0, so the latents stay in a range a GAN likes

    # -- evaluation (metrics.note_autoencoder_eval) and the notebook's live run
    eval_notes: int = 256  # held-out notes every recorded number is measured on
    baseline_notes: int = 1024  # training notes the mean-note-of-the-same-pitch baseline is fitted on
    live_steps: int = 40  # steps of the short live run the notebook always shows

    # -- running
    checkpoint_every: int = 500  # steps between training checkpoints (when a checkpoint path is given)
    cpu_threads: int | None = 1  # torch threads on a CPU device: many small ops (None: leave torch's setting)

    @classmethod
    def for_profile(cls, profile: str) -> "AutoencoderConfig":
        check_profile(profile)
        return replace(cls(), **FULL) if profile == "full" else cls()


# the full profile (a GPU): a bigger model, longer run, bigger batches, and all CPU threads
FULL = dict(
    steps=30_000,
    batch_size=32,
    cpu_threads=None,
    eval_notes=1024,
    baseline_notes=4096,
    live_steps=200,
    model=DDSPConfig(hidden=512, decoder_layers=4, encoder_channels=192, n_harmonics=64),
)


def replace_config(config: AutoencoderConfig, **changes) -> AutoencoderConfig:
    """A copy of `config` with some fields changed (model fields may be given as model=DDSPConfig(...))."""
    return replace(config, **changes)


# ------------------------------------------------------------------------------------ data
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


# ------------------------------------------------------------------------------------ training
@dataclass
class AutoencoderRun:
    """A trained (or loaded) autoencoder with its loss curves: what `load_or_train` returns either way."""

    model: NoteAutoencoder
    history: dict[str, list[float]]  # per-step losses ("step", "mss", "pitch_ce", ...)
    seconds: float  # seconds of training
    loop: TrainLoop | None = None  # the loop (None for a loaded model)


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
    with cpu_threads_for(config.cpu_threads, device):
        loop.run(min(stop_at or total, total))
    model.eval()
    return AutoencoderRun(model, loop.history, loop.seconds, loop)


def load_or_train(
    config: AutoencoderConfig,
    profile: str,
    seed: int = 0,
    device: str | torch.device = "cpu",
    retrain: bool = False,
    checkpoint_path: str | Path | None = None,
) -> LoadedOrTrained[AutoencoderRun]:
    """The shipped model when the profile ships one and retrain is False; otherwise train (resumable).

    The decision is `weights.load_or_train`; `print(result)` says which happened. The shipped
    model was trained on TimGM6mb notes; it is loaded whatever `config.source` says (its
    metadata names its data), so a run on another font or on the synthetic fallback measures
    how it generalises rather than training for an hour. In the quick profile a missing or
    damaged shipped file is an error (MissingWeightsError) naming the script that makes it.
    """

    def load() -> AutoencoderRun:
        model = load_autoencoder(device, AUTOENCODER_PATH)
        return AutoencoderRun(model, model.meta.get("history", {}), model.meta["train_seconds"])

    def train() -> AutoencoderRun:
        run = train_autoencoder(config, seed, device, checkpoint_path=checkpoint_path)
        run.model.requires_grad_(False)
        return run

    result = load_or_train_weights(
        AUTOENCODER_PATH,
        load=load,
        train=train,
        profile=profile,
        retrain=retrain,
        make_script=AUTOENCODER_SCRIPT,
        kind="note_autoencoder",
    )
    if result.shipped:
        meta = result.value.model.meta
        data, machine = meta.get("data", {}), meta.get("train", {}).get("machine")
        font = data.get("font", "synthetic notes") if isinstance(data, dict) else data
        where = f" ({machine})" if machine else ""
        result.how += f": {meta['steps']} steps, {meta['train_seconds'] / 60:.0f} minutes of training{where}, on {font}"
    return result
