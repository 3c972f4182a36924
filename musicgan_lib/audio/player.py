"""`play(audio, sr)`: an audio player in Jupyter that degrades to a WAV file anywhere else.

In a live notebook it shows IPython's audio player. In batch runs (the course runner,
nbval, CI: MUSICGAN_BATCH or CI set) it also writes the clip as a WAV file, so a headless
run leaves something to listen to; without IPython or a display it only writes the file.
It never fails for lack of a display.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import torch

from ..device import is_batch_run
from .io import write_wav

_counter = 0


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _prepare(audio, normalize: bool) -> np.ndarray:
    x = audio.detach().cpu().float().numpy() if isinstance(audio, torch.Tensor) else np.asarray(audio, np.float32)
    x = np.squeeze(x)
    if x.ndim == 2 and x.shape[0] > x.shape[1]:
        x = x.T
    if x.ndim not in (1, 2) or x.size == 0:
        raise ValueError(f"play() wants [samples] or [channels, samples] audio, got shape {np.shape(audio)}")
    if not np.isfinite(x).all():
        raise ValueError("play() got NaN/Inf samples: nothing sensible to listen to")
    peak = float(np.abs(x).max())
    if peak > 0 and (normalize or peak > 1.0):
        x = x * (0.95 / peak)  # loudness normalised for listening, never clipped
    return x.astype(np.float32)


def wav_bytes(audio, sr: int, *, normalize: bool = True) -> bytes:
    """The audio ([samples] or [channels, samples]) as the bytes of a 16-bit WAV file (for ipywidgets.Audio)."""
    import soundfile as sf

    x = _prepare(audio, normalize)
    buf = io.BytesIO()
    sf.write(buf, x.T if x.ndim == 2 else x, int(sr), subtype="PCM_16", format="WAV")
    return buf.getvalue()


def mp3_bytes(audio, sr: int, *, normalize: bool = True) -> bytes:
    """The audio ([samples] or [channels, samples]) as an MP3 (libsndfile's LAME): a fifth of a 16-bit WAV's size."""
    import soundfile as sf

    x = _prepare(audio, normalize)
    buf = io.BytesIO()
    sf.write(buf, x.T if x.ndim == 2 else x, int(sr), format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


def player_widget(x: np.ndarray, sr: int):
    """An IPython audio player embedding `x` ([samples] or [channels, samples]) compressed (MP3) when libsndfile
    can, so a notebook with a few minutes of music stays a few MB; a 16-bit WAV otherwise. The WAV written to disk
    is never compressed."""
    from IPython.display import Audio

    import soundfile as sf

    if "MP3" in sf.available_formats():
        widget = Audio(data=mp3_bytes(x, sr, normalize=False))
        widget.mimetype = "audio/mpeg"
        return widget
    return Audio(x, rate=sr, normalize=False)


def play(
    audio,
    sr: int = 16000,
    *,
    name: str | None = None,
    folder: str | os.PathLike | None = None,
    normalize: bool = True,
    save: bool | None = None,
) -> None:
    """Show a player for `audio` ([samples] or [channels, samples]); in batch runs also save a WAV.

    name: file name stem (default clip_01, clip_02, ...); folder: where WAVs go (default
    ./runs/audio, or $MUSICGAN_OUT/audio); save: force writing the WAV on or off. Returns
    nothing (so a notebook cell ending in play(...) shows only the player); the path of the
    last WAV written is in `last_saved()`.
    """
    global _counter
    x = _prepare(audio, normalize)
    notebook = _in_notebook()
    if save is None:
        save = is_batch_run() or not notebook
    path = None
    if save:
        _counter += 1
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name) if name else f"clip_{_counter:02d}"
        if folder is None:
            from ..paths import output_dir

            folder = output_dir("audio")
        path = write_wav(Path(folder) / f"{stem}.wav", x, sr)
    if notebook:
        try:
            from IPython.display import display

            display(player_widget(x, sr))
        except Exception as exc:  # a player is a convenience: never let it break a run
            print(f"(no audio player: {exc})")
    if path is not None:
        global _last
        _last = path
        print(f"audio written to {path}")


_last: Path | None = None


def last_saved() -> Path | None:
    """Path of the WAV file the latest play() wrote, if any."""
    return _last
