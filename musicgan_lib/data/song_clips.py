"""Fixed-length clips of real tunes played by SoundFont instruments: chapter 8's training audio.

Each tune is played once, by an instrument, tempo and transposition drawn from the seed
(the transposition keeps the tune inside the instrument's range), then cut into consecutive
clips of `clip_s` seconds. Clips with too little music in them (under `min_voiced` of their
frames inside a note) are dropped. Every clip keeps its score f0 per frame, the instrument
and the tune it came from, so a split by tune stays a split by tune.

`split_tunes` and `load_song_data` make the chapter's data set from its config: the tunes,
parsed (cached) and split by tune content, and the training clips (cached too).

Shapes: audio [N, S] with S = clip_s * sr; f0_hz [N, F] with F = clip_s * frame_rate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..checkpoint import read_tensor_file
from ..checks import require_int, require_number
from .melodies import INSTRUMENTS, Melody, fitting_transpositions, load_melodies, render_melody, split_by_tune

INSTRUMENT_NAMES = tuple(INSTRUMENTS)


@dataclass
class SongClips:
    """audio [N, S] float32, f0_hz [N, F] (score; 0 in rests), instrument [N] (index into INSTRUMENT_NAMES),
    tune [N] (index into the melody list), tempo_bpm [N], transpose [N]."""

    audio: Tensor
    f0_hz: Tensor
    instrument: Tensor
    tune: Tensor
    tempo_bpm: Tensor
    transpose: Tensor
    sr: int
    frame_rate: int

    def __len__(self) -> int:
        return self.audio.shape[0]

    def __getitem__(self, index) -> SongClips:
        return SongClips(*(getattr(self, f.name)[index] for f in fields(self)[:6]), self.sr, self.frame_rate)

    def tensors(self) -> dict[str, Tensor]:
        """The tensors by name (audio [N, S], f0_hz [N, F], the labels [N]), for a cache file."""
        return {f.name: getattr(self, f.name).contiguous() for f in fields(self)[:6]}

    @classmethod
    def from_tensors(cls, tensors: dict[str, Tensor], sr: int, frame_rate: int) -> SongClips:
        """The clips back from `tensors()`' dict (audio [N, S], f0_hz [N, F], the labels [N])."""
        return cls(*(tensors[f.name] for f in fields(cls)[:6]), sr, frame_rate)


def render_clips(
    melodies: list[Melody],
    clip_s: float = 4.0,
    *,
    step_s: float | None = None,
    seed: int = 0,
    max_clips_per_tune: int | None = None,
    instruments: tuple[str, ...] = INSTRUMENT_NAMES,
    tempo_range: tuple[float, float] = (80.0, 140.0),
    sr: int = 16000,
    frame_rate: int = 50,
    min_voiced: float = 0.5,
    soundfont: str | Path | None = None,
    progress: bool = True,
) -> SongClips:
    """Play every melody once (instrument, tempo, transposition from `seed`) and cut it into clips.

    Returns N clips: audio [N, clip_s * sr], f0_hz [N, clip_s * frame_rate], the labels [N].

    Clips start every `step_s` seconds (default `clip_s`: back to back; less: overlapping).
    The draws per tune do not depend on the clip lengths, so the same seed plays each tune the
    same way for 2-s and 8-s clips.
    """
    from tqdm.auto import tqdm

    clip_s = require_number("clip_s", clip_s, low=0, low_open=True)
    frames = int(round(clip_s * frame_rate))
    step = frames if step_s is None else int(round(require_number("step_s", step_s, low=0, low_open=True) * frame_rate))
    if frames * (sr // frame_rate) != int(round(clip_s * sr)):
        raise ValueError(f"clip_s ({clip_s}) must be a whole number of frames at {frame_rate} frames/s")
    if max_clips_per_tune is not None:
        require_int("max_clips_per_tune", max_clips_per_tune)
    unknown = [i for i in instruments if i not in INSTRUMENTS]
    if unknown or not instruments:
        raise ValueError(f"unknown instrument(s) {unknown}; choose from {', '.join(INSTRUMENTS)}")
    rng = np.random.default_rng(seed)
    hop = sr // frame_rate
    out: dict[str, list] = {k: [] for k in ("audio", "f0_hz", "instrument", "tune", "tempo_bpm", "transpose")}
    for t, melody in enumerate(tqdm(melodies, desc="rendering tunes", unit="tune", disable=not progress)):
        order = rng.permutation(len(instruments))
        tempo = float(rng.uniform(*tempo_range))
        pick = rng.random()
        for k in order:  # the first drawn instrument the tune fits
            shifts = fitting_transpositions(melody, instruments[k])
            if shifts:
                name = instruments[k]
                shift = shifts[int(pick * len(shifts))]
                break
        else:
            continue  # no instrument plays this tune's range
        r = render_melody(melody, name, tempo, shift, sr=sr, frame_rate=frame_rate, soundfont=soundfont)
        kept = 0
        for start in range(0, len(r.score_f0_hz) - frames + 1, step):
            f0 = r.score_f0_hz[start : start + frames]
            if (f0 > 0).mean() < min_voiced:
                continue
            out["audio"].append(r.audio[start * hop : (start + frames) * hop])
            out["f0_hz"].append(f0)
            for key, value in (
                ("instrument", INSTRUMENT_NAMES.index(name)),
                ("tune", t),
                ("tempo_bpm", tempo),
                ("transpose", shift),
            ):
                out[key].append(value)
            kept += 1
            if max_clips_per_tune is not None and kept >= max_clips_per_tune:
                break
    if not out["audio"]:
        raise ValueError("no clip had enough music in it: pass more melodies, a shorter clip_s or a lower min_voiced")
    return SongClips(
        torch.from_numpy(np.stack(out["audio"])),
        torch.from_numpy(np.stack(out["f0_hz"])),
        torch.tensor(out["instrument"]),
        torch.tensor(out["tune"]),
        torch.tensor(out["tempo_bpm"], dtype=torch.float32),
        torch.tensor(out["transpose"]),
        sr,
        frame_rate,
    )


@dataclass
class SongData:
    """The chapter's tunes (split by tune) and the training clips rendered from the training tunes."""

    train_tunes: list[Melody]
    held_out_tunes: list[Melody]
    clips: SongClips


def split_tunes(config: Any, cache_dir: str | Path | None = None, progress: bool = True) -> tuple[list, list]:
    """(train, held_out) tunes: the config's tunes parsed (cached in `cache_dir`) and split by tune content.

    `config` is chapter 8's `SongConfig` (read: collection, n_tunes, held_out, data_seed).
    """
    tunes = load_melodies(config.collection, config.n_tunes, cache_dir=cache_dir, progress=progress)
    return split_by_tune(tunes, config.held_out, config.data_seed)


def load_song_data(config: Any, cache_dir: str | Path | None = None, progress: bool = True) -> SongData:
    """Parse (cached), split by tune and render the training clips (cached in `cache_dir` too).

    `config` is chapter 8's `SongConfig`; the clips are audio [N, ae_clip_s * sr] and f0 [N, ae_clip_s * frame_rate].
    """
    train, held = split_tunes(config, cache_dir, progress)
    cache = None
    if cache_dir is not None:
        key = (
            f"{config.collection}_{config.n_tunes}_{config.held_out}_{config.data_seed}_{config.ae_clip_s}_"
            f"{config.ae_clips_per_tune}_{config.tempo_range}_{config.model.sample_rate}_{config.model.frame_rate}"
        )
        cache = Path(cache_dir) / f"song_clips_{_stable_hash(key)}.safetensors"
        if cache.exists():
            tensors, meta = read_tensor_file(cache)
            clips = SongClips.from_tensors(
                {k: v.float() if k == "audio" else v for k, v in tensors.items()},
                int(meta["sr"]),
                int(meta["frame_rate"]),
            )
            return SongData(train, held, clips)
    clips = render_clips(
        train,
        config.ae_clip_s,
        seed=config.data_seed,
        tempo_range=config.tempo_range,
        max_clips_per_tune=config.ae_clips_per_tune,
        sr=config.model.sample_rate,
        frame_rate=config.model.frame_rate,
        progress=progress,
    )
    if cache is not None:
        from safetensors.torch import save_file

        tensors = clips.tensors()
        tensors["audio"] = tensors["audio"].half()  # half the disk; rendered audio peaks well under 1
        cache.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, str(cache), metadata={"sr": str(clips.sr), "frame_rate": str(clips.frame_rate)})
    return SongData(train, held, clips)


def _stable_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]
