"""Which notes chapters 6 and 7 learn from: real SoundFont notes by default, synthetic as the fallback.

Chapters 6 (the note autoencoder) and 7 (the latent GAN) and the note classifier that judges
them all draw their notes through `note_set`, so one switch decides the data of all three:

* **soundfont** (the default whenever fluidsynth and a font are installed): real recorded
  instrument samples rendered by fluidsynth (`data.soundfont`): 16 General MIDI programs, two
  per family, each at the pitches it really plays, velocities 40..127, 1-s notes held 0.75 s
  and then released (the release is in the clip).
* **synthetic** (the fallback): the library's own sums of sines with envelopes (`data.notes`).
  They are a teaching toy: the decoder is itself a sum of sines, so it only has to invert
  something close to itself. `choose_note_data` warns loudly when it falls back.

A `NoteData` names the source and, for SoundFont notes, the font file; its `key()` goes into
cache keys and the metadata of weights trained on it, so nothing trained on one font is
silently reused as if it had been trained on another.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .notes import FRAME_RATE, SAMPLE_RATE, NoteBatch, make_notes
from .soundfont import SoundFontError, find_soundfont, fluidsynth_path, installed_soundfonts, make_soundfont_notes

NOTE_DATA_CHOICES = ("auto", "soundfont", "synthetic")
HELD_OUT_OFFSET = 5_000_000  # stream position of chapter 6's evaluation notes: no training set gets there

FALLBACK_WARNING = (
    "NO SOUNDFONT: this run uses the library's SYNTHETIC notes (sums of sines), not real instruments. "
    "The shipped models were trained on real SoundFont notes, so numbers here are not comparable. "
    "Install fluidsynth and a General MIDI font (`sudo scripts/install-system-deps.sh`, or "
    "`conda install -c conda-forge fluidsynth` plus any .sf2) and run again."
)


@dataclass(frozen=True)
class NoteData:
    """Where notes come from: `kind` "soundfont" (with `font`, a .sf2/.sf3 path) or "synthetic"."""

    kind: str
    font: Path | None = None

    @property
    def real(self) -> bool:
        """True for recorded instrument samples (the `real_notes` record is 1), False for the fallback."""
        return self.kind == "soundfont"

    def describe(self) -> str:
        if self.real:
            return f"real instrument notes rendered from the SoundFont {self.font.name} ({self.font})"
        return "SYNTHETIC notes (the fallback: no SoundFont)"

    def key(self) -> dict[str, object]:
        """What identifies the data in cache keys and weight metadata: the kind, the font's name and size."""
        if not self.real:
            return {"notes": "synthetic"}
        return {"notes": "soundfont", "font": self.font.name, "font_bytes": self.font.stat().st_size}


def choose_note_data(data: str = "auto", soundfont: str | os.PathLike | None = None, *, warn: bool = True) -> NoteData:
    """The note source for `data` ("auto", "soundfont" or "synthetic") and an optional font path.

    "auto" picks SoundFont notes when fluidsynth and a font are installed and otherwise falls
    back to synthetic notes with `FALLBACK_WARNING`. "soundfont" insists: no font or no
    fluidsynth is a `SoundFontError` that says what to install. An explicit `soundfont` path
    that is missing or not a SoundFont is always an error (a typo must not silently become
    synthetic data).
    """
    if data not in NOTE_DATA_CHOICES:
        raise ValueError(f"note data {data!r} is not one of {NOTE_DATA_CHOICES}")
    if data == "synthetic":
        return NoteData("synthetic")
    font = find_soundfont(soundfont or None)  # raises SoundFontError for a bad explicit path
    if font is not None and fluidsynth_path() is not None:
        return NoteData("soundfont", font)
    missing = "fluidsynth" if font is not None else "a SoundFont (.sf2)"
    if data == "soundfont":
        raise SoundFontError(f"real notes need {missing}, which is not installed. {FALLBACK_WARNING.split('. ', 2)[2]}")
    if warn:
        warnings.warn(FALLBACK_WARNING, stacklevel=2)
    return NoteData("synthetic")


def note_set(
    data: NoteData,
    n: int,
    *,
    seed: int = 0,
    index_offset: int = 0,
    unseen_by: int = 0,
    duration: float = 1.0,
    sr: int = SAMPLE_RATE,
    frame_rate: int = FRAME_RATE,
    cache_dir: str | os.PathLike | None = None,
) -> NoteBatch:
    """n notes of `data`, positions index_offset .. of the seed's stream: audio [n, duration·sr] and labels.

    `unseen_by=N` (SoundFont notes) keeps only notes whose (program, pitch, velocity) is not in
    the training set of N notes (positions 0..N-1): held-out notes the model never heard.
    Synthetic notes have continuous random timbres, so every position is already a new note.
    `cache_dir` keeps rendered SoundFont sets (re-rendering costs ~2 ms a note).
    """
    if data.real:
        return make_soundfont_notes(
            n,
            duration,
            seed=seed,
            index_offset=index_offset,
            unseen_by=unseen_by,
            soundfont=data.font,
            sr=sr,
            frame_rate=frame_rate,
            cache_dir=cache_dir,
        )
    return make_notes(n, duration, seed=seed, index_offset=index_offset, sr=sr, frame_rate=frame_rate)


class NoteSource:
    """Training notes for step t: a batch [batch_size] drawn from a fixed set, or fresh synthetic notes.

    With `fixed` (a rendered SoundFont set) a step samples batch_size notes of it with the training
    loop's generator, so a resumed run draws exactly the batches an uninterrupted one would.
    Without it, step t is notes t·B .. t·B + B - 1 of the synthetic stream (`make_notes`).
    """

    def __init__(self, data: NoteData, batch_size: int, seed: int, fixed: NoteBatch | None = None) -> None:
        self.data, self.batch_size, self.seed, self.fixed = data, batch_size, seed, fixed

    def __call__(self, step: int, rng: torch.Generator) -> NoteBatch:
        if self.fixed is None:
            return make_notes(self.batch_size, seed=self.seed, index_offset=step * self.batch_size)
        idx = torch.randint(len(self.fixed), (self.batch_size,), generator=rng)
        return self.fixed[idx]


def held_out_notes(
    n: int, data: NoteData, seed: int = 0, unseen_by: int = 0, cache_dir: str | os.PathLike | None = None
) -> NoteBatch:
    """Evaluation notes nobody trained on: index offset HELD_OUT_OFFSET of the seed's stream and,
    with `unseen_by` = the training set's size, no (program, pitch, velocity) the model heard.
    Audio [n, S]; SoundFont sets are cached in `cache_dir` (default `runs/06/`)."""
    from ..paths import output_dir

    return note_set(
        data,
        n,
        seed=seed,
        index_offset=HELD_OUT_OFFSET,
        unseen_by=unseen_by,
        cache_dir=(cache_dir or output_dir("06")) if data.real else None,
    )


def other_soundfont(training: NoteData, explicit: str | os.PathLike | None = None) -> Path | None:
    """A font the models never saw, to test how the encoding generalises: `explicit`, else the
    first installed font that is not the training font (Debian's MuseScore General Lite, ...)."""
    if explicit:
        return find_soundfont(explicit)
    trained_on = training.font.resolve() if training.font is not None else None
    others = (font.resolve() for font in installed_soundfonts() if font.resolve() != trained_on)
    return next(others, None)


__all__ = [
    "FALLBACK_WARNING",
    "HELD_OUT_OFFSET",
    "NOTE_DATA_CHOICES",
    "NoteData",
    "NoteSource",
    "choose_note_data",
    "held_out_notes",
    "note_set",
    "other_soundfont",
    "SoundFontError",
]
