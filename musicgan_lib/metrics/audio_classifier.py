"""A small note classifier on log-mel spectrograms: the judge of every generated sound.

Why: "does the reconstruction / the generated note still sound like a C4 on a flute?" is a
question a frozen network can answer the same way for every model. A small CNN reads the
log-mel spectrogram of a 1-second, 16 kHz note and predicts

* its **pitch**, MIDI 48..84 (37 classes, C3..C6: `PITCH_RANGE` of `data.notes`), and
* its **family**, one of the 8 `FAMILIES` of `data.notes`.

Its penultimate layer (64 features, centred and scaled on real notes) is the feature space for
Fréchet distance and KID of generated audio (`metrics.frechet.frechet_report`).

Contract (chapter 6 builds it, chapter 7 uses it):

* `load_note_classifier(device="cpu", path=None) -> NoteClassifier` loads the shipped, frozen
  `assets/note_classifier.safetensors` (built by `scripts/make_note_models.py`).
* `NoteClassifier.predict(audio [N, S]) -> (pitch_logits [N, 37], family_logits [N, 8])`
  (batched, no grad, inputs moved to the classifier's device); pitch class i is MIDI 48 + i.
* `NoteClassifier.features(audio) -> [N, 64]` and `.feature_extractor()` (an `nn.Module`
  for `frechet_report(classifier.feature_extractor(), real_audio, fake_audio, n)`).
* `note_accuracy(classifier, audio, pitch, family) -> {"pitch": .., "family": ..}`.
* `train_note_classifier(steps, batch_size, seed, data=...)` trains a fresh one on the notes of
  `data` (a `data.note_sets.NoteData`): the shipped one on real SoundFont notes.

Inputs are raw audio [N, samples] at 16 kHz (any length; ~1 s is what it was trained on).
Each note's log-mel is measured relative to its own loudest bin, so the classifier ignores
overall gain; training adds random gain, a little noise and a random onset shift so it stays
sensible on reconstructions and GAN samples that are not bit-exact copies of real notes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from musicgan_lib.data.note_sets import NoteData, note_set
from musicgan_lib.data.notes import FAMILIES, PITCH_RANGE, SAMPLE_RATE, make_notes
from musicgan_lib.device import pick_device
from musicgan_lib.metrics.frechet import PenultimateFeatures
from musicgan_lib.weights import load_weights, read_weights_meta, save_weights, weights_path

ASSET_PATH = weights_path("note_classifier", None)  # one shipped judge serves every profile
MAKE_SCRIPT = "scripts/make_note_models.py"
KIND = "note_classifier"
N_PITCHES = PITCH_RANGE[1] - PITCH_RANGE[0] + 1  # 37
LOWEST_PITCH = PITCH_RANGE[0]  # pitch class 0 is MIDI 48


class LogMel(nn.Module):
    """Audio [N, S] -> log-mel [N, 1, n_mels, frames], each note relative to its own peak (dB / 40)."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_mels: int = 128,
        n_fft: int = 2048,
        hop: int = 512,
        floor_db: float = -80.0,
    ) -> None:
        super().__init__()
        import torchaudio

        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate,
            n_fft=n_fft,
            hop_length=hop,
            n_mels=n_mels,
            f_min=20.0,
            f_max=sample_rate / 2,
            power=2.0,
        )
        self.floor_db = floor_db
        for module in self.mel.modules():  # the window and mel filters are recomputed, not stored
            module._non_persistent_buffers_set.update(name for name, _ in module.named_buffers(recurse=False))

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio [N, T] mono at sample_rate -> [N, 1, M, F] with M = n_mels, F = T // hop + 1 frames; values
        (dB - the note's peak dB) / 40 + 1, in [1 + floor_db / 40, 1] ([-1, 1] by default).
        """
        if audio.ndim != 2:
            raise ValueError(f"expected mono audio [N, samples], got {tuple(audio.shape)}")
        db = 10.0 * torch.log10(self.mel(audio.float()) + 1e-10)
        db = db - db.amax(dim=(1, 2), keepdim=True)
        return (db.clamp(min=self.floor_db) / 40.0 + 1.0).unsqueeze(1)


class NoteClassifier(nn.Module):
    """Log-mel -> three conv blocks (pooling time faster than frequency) -> 64 features -> two heads.

    Frequency position is what pitch is, so the conv stack keeps 32 frequency rows and only
    averages over time before the feature layer.
    """

    def __init__(
        self, width: int = 16, feature_dim: int = 64, n_mels: int = 128, sample_rate: int = SAMPLE_RATE
    ) -> None:
        super().__init__()
        if feature_dim > 64:
            raise ValueError("feature_dim must be <= 64 (the Fréchet features stay small)")
        self.config = {"width": width, "feature_dim": feature_dim, "n_mels": n_mels, "sample_rate": sample_rate}
        self.sample_rate = sample_rate
        self.frontend = LogMel(sample_rate, n_mels)
        w = width
        self.conv = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d((1, 2)),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
        )  # fmt: skip
        self.fc = nn.Linear(2 * w * (n_mels // 4) * 2, feature_dim)
        self.pitch_head = nn.Linear(feature_dim, N_PITCHES)
        self.family_head = nn.Linear(feature_dim, len(FAMILIES))
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_scale", torch.ones(()))

    def _raw_features(self, audio: torch.Tensor) -> torch.Tensor:
        h = self.conv(self.frontend(audio))  # [N, C, F, T]
        h = torch.cat([h.mean(dim=3), h.amax(dim=3)], dim=1)  # average and peak over time
        return self.fc(h.flatten(1))

    def forward(self, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pitch_logits [N, 37], family_logits [N, 8]) with gradients (for training)."""
        h = torch.relu(self._raw_features(audio))
        return self.pitch_head(h), self.family_head(h)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, feature_dim] (pre-activation), centred/scaled on real notes."""
        return (self._raw_features(audio) - self.feature_mean) / self.feature_scale

    def feature_extractor(self) -> nn.Module:
        """An nn.Module whose forward is `features`: what `frechet_report` wants."""
        return PenultimateFeatures(self)

    @torch.no_grad()
    def predict(self, audio: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """(pitch_logits [N, 37], family_logits [N, 8]) on the CPU, in eval mode, batched."""
        was = self.training
        self.eval()
        dev = self.feature_mean.device
        try:
            outs = [self(audio[i : i + batch_size].to(dev)) for i in range(0, audio.shape[0], batch_size)]
        finally:
            self.train(was)
        return torch.cat([o[0] for o in outs]).float().cpu(), torch.cat([o[1] for o in outs]).float().cpu()

    @torch.no_grad()
    def calibrate_features(self, audio: torch.Tensor, batch_size: int = 256) -> None:
        """Centre the features on real notes and scale them to unit mean variance (one scalar).

        audio: real notes [N, T], mono at 16 kHz, fed in chunks of batch_size.
        """
        was = self.training
        self.eval()
        dev = self.feature_mean.device
        raw = torch.cat(
            [self._raw_features(audio[i : i + batch_size].to(dev)) for i in range(0, len(audio), batch_size)]
        )
        self.feature_mean.copy_(raw.mean(0))
        self.feature_scale.copy_(raw.var(0).mean().sqrt().clamp_min(1e-8))
        self.train(was)


def pitch_to_class(pitch: torch.Tensor) -> torch.Tensor:
    """MIDI pitch -> pitch-head class index (48 -> 0, ..., 84 -> 36).

    pitch [*S] (any shape, MIDI 48..84) -> class indices [*S], int64 in 0..36.
    """
    return pitch.long() - LOWEST_PITCH


def augment(audio: torch.Tensor, g: torch.Generator, max_shift: int = 800) -> torch.Tensor:
    """Random gain (+-20 dB), white noise at 25..60 dB below the note's RMS (half the batch), and a
    random onset delay of up to `max_shift` samples: what reconstructions and GAN samples differ by.

    audio [N, T] mono (CPU, as `g`) -> augmented audio [N, T].
    """
    n, s = audio.shape
    gain = 10.0 ** ((torch.rand(n, 1, generator=g) * 40.0 - 20.0) / 20.0)
    rms = audio.pow(2).mean(1, keepdim=True).sqrt()
    snr = 25.0 + 35.0 * torch.rand(n, 1, generator=g)
    noise = torch.randn(audio.shape, generator=g) * rms * 10.0 ** (-snr / 20.0)
    noise[: n // 2] = 0.0
    x = audio + noise
    shift = torch.randint(0, max_shift + 1, (n,), generator=g)
    idx = (torch.arange(s)[None, :] - shift[:, None]).clamp(min=0)
    x = torch.where(torch.arange(s)[None, :] >= shift[:, None], x.gather(1, idx), torch.zeros(()))
    return x * gain


def train_note_classifier(
    steps: int = 1500,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    width: int = 16,
    feature_dim: int = 64,
    duration: float = 1.0,
    log_every: int = 0,
    data: NoteData | None = None,
    n_train: int = 8192,
) -> NoteClassifier:
    """Train the classifier on the notes of `data` (default: synthetic).

    Synthetic notes cost ~1 ms each, so every step draws fresh ones (note i of step t is stream
    index t*batch + i). SoundFont notes are rendered once as a fixed set of `n_train` notes
    (positions 0..n_train-1; ~2 ms a note) and batches are drawn from it with the seeded
    generator; hold out with `note_set(data, n, unseen_by=n_train, ...)` to test on notes it
    never heard. Returns the model in eval mode with its features calibrated on 2,048 further notes.
    """
    data = data or NoteData("synthetic")
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = NoteClassifier(width=width, feature_dim=feature_dim).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    fixed = note_set(data, n_train, seed=seed, duration=duration) if data.real else None
    model.train()
    t0 = time.perf_counter()
    for step in range(steps):
        if fixed is None:
            notes = make_notes(batch_size, duration, seed=seed, index_offset=step * batch_size)
        else:
            notes = fixed[torch.randint(len(fixed), (batch_size,), generator=g)]
        x = augment(notes.audio, g).to(dev)
        pitch_logits, family_logits = model(x)
        loss = loss_fn(pitch_logits, pitch_to_class(notes.pitch).to(dev)) + loss_fn(family_logits, notes.family.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - t0:.1f}s", flush=True)
    model.eval()
    calibration = (
        fixed
        if fixed is not None
        else note_set(data, 2048, seed=seed, duration=duration, index_offset=steps * batch_size)
    )
    model.calibrate_features(calibration.audio[:2048])
    return model


def note_accuracy(
    classifier: NoteClassifier, audio: torch.Tensor, pitch: torch.Tensor, family: torch.Tensor
) -> dict[str, float]:
    """Held-out accuracy of both heads: {"pitch": ..., "family": ...} (fractions).

    audio [N, T] mono at 16 kHz; pitch [N] MIDI numbers 48..84; family [N] indices into FAMILIES.
    """
    p_logits, f_logits = classifier.predict(audio)
    return {
        "pitch": float((p_logits.argmax(1) == pitch_to_class(pitch.cpu())).float().mean()),
        "family": float((f_logits.argmax(1) == family.cpu()).float().mean()),
    }


def save_note_classifier(
    model: NoteClassifier,
    path: str | Path = ASSET_PATH,
    extra_meta: Mapping[str, Any] | None = None,
    half: bool = True,
    *,
    steps: int = 0,
    train_seconds: float = 0.0,
    data: Mapping[str, Any] | str = "unrecorded notes",
) -> Path:
    """Write the classifier (fp16 weights by default: half the size, same predictions) with its config,
    the standard metadata (steps, train_seconds, the `data` it learned from) and the label sets it knows."""
    meta = {"families": list(FAMILIES), "pitch_range": list(PITCH_RANGE), **(extra_meta or {})}
    return save_weights(
        path,
        {"classifier": model},
        kind=KIND,
        config=dict(model.config),
        steps=steps,
        train_seconds=train_seconds,
        data=data,
        half=half,
        meta=meta,
    )


def load_note_classifier(device: str | torch.device = "cpu", path: str | Path | None = None) -> NoteClassifier:
    """The shipped note classifier, frozen, float32, in eval mode, on `device` ("auto" allowed).

    Its metadata is `model.meta` (steps and train_seconds read as today's keys from older files too: `weights.read_weights_meta`).
    """
    path = Path(path) if path is not None else ASSET_PATH
    make = f"{MAKE_SCRIPT} --only classifier"  # a few minutes on a CPU
    meta = read_weights_meta(path, kind=KIND, make_script=make, what="note classifier")
    if tuple(meta.get("families", ())) != FAMILIES or tuple(meta.get("pitch_range", ())) != PITCH_RANGE:
        raise ValueError(
            f"{path} was trained for families {meta.get('families')} / pitches {meta.get('pitch_range')}, "
            f"but the note data now has {FAMILIES} / {PITCH_RANGE}; rebuild it with `.venv/bin/python {MAKE_SCRIPT}`."
        )
    model = NoteClassifier(**meta["config"])
    meta, _ = load_weights(path, {"classifier": model}, kind=KIND, make_script=make, device=pick_device(device))
    model.meta = meta  # type: ignore[attr-defined]
    return model.requires_grad_(False)
