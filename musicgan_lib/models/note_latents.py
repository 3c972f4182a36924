"""Notes as latents: chapter 6's frozen autoencoder turns each note into a per-note latent z.

Chapter 7's GAN works on these latents, so this module holds what sits between the notes and
the GAN: encoding audio into latents and decoding latents at a constant pitch
(`encode_latents`, `decode_latents`), the fingerprint that ties latents to one autoencoder's
weights, and the chapter's three disjoint note sets as latents (`load_chapter_data`: training,
reference and held-out), taken from the shipped weights file, a cache or the encoder itself.

Any autoencoder with the chapter-6 interface works: `encode(audio).z`, `decode(z, f0_hz)`,
`sample_rate`, `frame_rate`, `n_samples`.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..audio.synth import midi_to_hz
from ..checkpoint import load_checkpoint, read_checkpoint_meta, read_tensor_file
from ..data.note_sets import NoteData, choose_note_data, note_set
from ..data.notes import FAMILIES
from ..data.soundfont import DEFAULT_PROGRAMS, soundfont_labels

__all__ = [
    "LATENT_FIELDS",
    "SET_OFFSET",
    "ChapterData",
    "LatentSet",
    "autoencoder_fingerprint",
    "decode_latents",
    "encode_latents",
    "latent_source_key",
    "latent_tensors",
    "load_chapter_data",
    "module_device",
    "n_frames",
    "note_duration",
    "split_offsets",
    "stored_latents",
    "training_instruments",
]

# `config` below is any object with the set sizes (the chapter's LatentGANConfig): n_train and
# n_eval (notes), data_seed (the note stream) and encode_batch (notes per encoder call).


def autoencoder_fingerprint(autoencoder: nn.Module) -> str:
    """A short hash of the autoencoder's weights: latents (and a GAN trained on them) belong to one autoencoder."""
    h = hashlib.sha1()
    for key, value in sorted(autoencoder.state_dict().items()):
        h.update(key.encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def n_frames(autoencoder: Any) -> int:
    """Frames of one note's control curves: ceil(n_samples / hop)."""
    hop = autoencoder.sample_rate // autoencoder.frame_rate
    return -(-autoencoder.n_samples // hop)


def note_duration(autoencoder: Any) -> float:
    """Seconds of one note."""
    return autoencoder.n_samples / autoencoder.sample_rate


def module_device(module: Any) -> torch.device:
    """The device of a module's first parameter (the CPU for anything without parameters)."""
    p = next(module.parameters(), None) if isinstance(module, nn.Module) else None
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def encode_latents(autoencoder: Any, audio: Tensor, batch: int = 250) -> Tensor:
    """Per-note latents z [N, Z] of audio [N, S] (on the CPU)."""
    dev = module_device(autoencoder)
    return torch.cat([autoencoder.encode(a.to(dev)).z.float().cpu() for a in audio.split(batch)])


@torch.no_grad()
def decode_latents(autoencoder: Any, z: Tensor, pitch: Tensor, batch: int = 250) -> Tensor:
    """Audio [N, S] of latents z [N, Z] played at a constant f0 = midi_to_hz(pitch) (on the CPU)."""
    dev = module_device(autoencoder)
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
        """[N, Z] autoencoder latents -> [N, Z] zero mean, unit variance per dimension (training set's)."""
        return (z - self.mean) / self.std

    @property
    def latent_dim(self) -> int:
        return self.train.z.shape[1]


SET_OFFSET = 1_000_000  # stream positions of the reference and held-out sets: far apart, never overlapping


def split_offsets(config: Any) -> dict[str, tuple[int, int]]:
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
    """The three sets' latents and labels as flat tensors (for a cache file or the shipped asset).

    Keys latents/{set}/{field}: z [N, Z] (float16 when half), pitch, family and velocity [N].
    """
    out = {}
    for name in ("train", "reference", "held_out"):
        s = getattr(data, name)
        for f in LATENT_FIELDS:
            v = getattr(s, f)
            out[f"latents/{name}/{f}"] = (v.half() if half and f == "z" else v).contiguous()
    return out


def stored_latents(tensors: dict[str, Tensor]) -> dict[str, LatentSet]:
    """The three sets back from `latent_tensors`' layout ({} when any is missing); z as float32.

    tensors: that layout -> {set: LatentSet(z [N, Z] float32, pitch [N], family [N], velocity [N])}.
    """
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


def latent_source_key(config: Any, fingerprint: str, notes: NoteData) -> dict[str, Any]:
    """What latents depend on: the autoencoder's weights, the set sizes, the data seed and the notes."""
    return {
        "autoencoder": fingerprint,
        "n_train": config.n_train,
        "n_eval": config.n_eval,
        "data_seed": config.data_seed,
        "note_data": notes.key(),
    }


def training_instruments(data: ChapterData, config: Any) -> Tensor:
    """Which of its family's instruments played each training note: [N] long (N = config.n_train), 0 or 1
    (the family's first or second General MIDI program, `DEFAULT_PROGRAMS`).

    The labels are recomputed from the note stream (`soundfont_labels`, no rendering), so stored latents
    need not carry them; their pitches and velocities must match the stored ones. Synthetic notes have
    no instruments: a ValueError says so.
    """
    if not data.notes.real:
        raise ValueError(
            "synthetic notes have no instruments: a sheet with one piece per instrument needs SoundFont notes"
        )
    programs, pitches, velocities = soundfont_labels(config.n_train, seed=config.data_seed)
    if not (
        torch.equal(torch.tensor(pitches), data.train.pitch)
        and torch.equal(torch.tensor(velocities), data.train.velocity)
    ):
        raise RuntimeError("the training latents are not the note stream's first n_train notes (labels differ)")
    families = [FAMILIES[int(f)] for f in data.train.family]
    return torch.tensor([DEFAULT_PROGRAMS[f].index(p) for f, p in zip(families, programs)])


def load_chapter_data(
    autoencoder: Any,
    config: Any,
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
    `config`: the set sizes (n_train, n_eval, data_seed, encode_batch), e.g. the chapter's LatentGANConfig.
    """
    start = time.process_time()
    notes_data = notes or choose_note_data("auto")
    fp = autoencoder_fingerprint(autoencoder)
    key = latent_source_key(config, fp, notes_data)
    duration = note_duration(autoencoder)
    stored: dict[str, LatentSet] = {}
    source = "encoded now"
    if asset is not None and Path(asset).exists():
        meta = read_checkpoint_meta(asset)
        if all(meta.get(k) == v for k, v in key.items()):
            _, extras = load_checkpoint(asset, {})  # checked: header, finite values
            stored = stored_latents(extras)
            source = f"latents from {Path(asset).name}"
    cache = None
    if cache_dir is not None:
        data_tag = hashlib.sha1(repr(sorted(notes_data.key().items())).encode()).hexdigest()[:8]
        cache = (
            Path(cache_dir) / f"latents_{fp}_{data_tag}_{config.n_train}_{config.n_eval}_{config.data_seed}.safetensors"
        )
        if not stored and cache.exists():
            try:
                stored = stored_latents(read_tensor_file(cache)[0])
                source = f"latents from {cache.name}"
            except (ValueError, KeyError) as exc:  # a cache is only a shortcut: say so and make it anew
                warnings.warn(f"ignoring the damaged latent cache {cache} ({exc}); encoding the notes again")
                stored = {}
    sets: dict[str, LatentSet] = {}
    for name, (n, offset) in split_offsets(config).items():
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
