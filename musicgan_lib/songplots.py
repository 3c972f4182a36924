"""Chapter 8's pictures: scores as piano rolls, transcriptions over spectrograms, curves and tables.

Every figure is at least as wide as a notebook's text column (9 inches at 72 dpi) with text of
9 pt or more, so it reads at 100 % zoom in JupyterLab.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .audio.analysis import plot_spectrogram
from .metrics.music import NoteSeq

WIDTH = 9.0  # inches: a notebook column at 72 dpi
TEXT = 10  # points
DPI = 100  # 9 inches -> 900 px: wider than a JupyterLab text column, no wider than a laptop screen


def _log_hz(midi):
    """A MIDI pitch on `plot_spectrogram(log_freq=True)`'s y axis, which is log10(Hz)."""
    return np.log10(440.0 * 2 ** ((np.asarray(midi, dtype=float) - 69) / 12))


def score_and_spectrogram(
    audio: np.ndarray, sr: int, notes: NoteSeq | None, title: str = "", heard: NoteSeq | None = None
):
    """One clip: its spectrogram (log frequency) with the score's notes drawn over it as cyan bars (and,
    if given, the notes a pitch tracker heard, as red lines) -- where the picture and the notes should agree."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.2), dpi=DPI)
    plot_spectrogram(audio, sr, ax=ax, log_freq=True, fmin=60.0, colors=24, title=title)
    for seq, style in (
        (notes, dict(color="#00e5ff", lw=2.5, alpha=0.8, label="score")),
        (heard, dict(color="tab:red", lw=1.2, label="heard by CREPE")),
    ):
        if seq is None:
            continue
        for i, (p, on, d) in enumerate(zip(seq.pitch, seq.onset, seq.duration)):
            kw = dict(style, label=style["label"] if i == 0 else None)  # one legend entry per kind
            ax.plot([on, on + d], [_log_hz(p)] * 2, solid_capstyle="butt", **kw)
    ax.legend(loc="upper right", fontsize=TEXT - 1, framealpha=0.6)
    ax.set_ylim(np.log10(60.0), np.log10(4000.0))
    ax.title.set_fontsize(TEXT + 1)
    fig.tight_layout()
    return fig


def encoding_figure(f0_hz: np.ndarray, loudness_db: np.ndarray, z: np.ndarray, frame_rate: float, title: str = ""):
    """The three parts of a clip's encoding against time: f0, loudness and the learned z(t)."""
    t = np.arange(len(f0_hz)) / frame_rate
    fig, axes = plt.subplots(3, 1, figsize=(WIDTH, 5.0), dpi=DPI, sharex=True)
    axes[0].plot(t, np.where(f0_hz > 0, f0_hz, np.nan), lw=1.5)
    axes[0].set(ylabel="f0 (Hz)", title=title)
    axes[1].plot(t, loudness_db, lw=1.2, color="tab:orange")
    axes[1].set(ylabel="loudness (dB)")
    im = axes[2].imshow(
        z.T, aspect="auto", origin="lower", cmap="coolwarm", extent=(0, t[-1], -0.5, z.shape[1] - 0.5), vmin=-3, vmax=3
    )
    axes[2].set(ylabel="z(t) channel", xlabel="time (s)")
    fig.colorbar(im, ax=axes[2], pad=0.01, label="z")
    for ax in axes:
        ax.tick_params(labelsize=TEXT)
        ax.yaxis.label.set_size(TEXT)
    fig.tight_layout()
    return fig


def curves(history: dict, keys: Sequence[str], title: str = "", window: int = 25):
    """Training curves (raw in grey, a running mean on top) against the step, one panel per key."""
    fig, axes = plt.subplots(1, len(keys), figsize=(WIDTH, 2.8), dpi=DPI, squeeze=False)
    steps = np.asarray(history["step"])
    for ax, key in zip(axes[0], keys):
        v = np.asarray(history[key], dtype=float)
        ax.plot(steps, v, color="0.75", lw=0.6)
        if len(v) >= window:
            ax.plot(steps[window - 1 :], np.convolve(v, np.ones(window) / window, mode="valid"), lw=1.5)
        ax.set(title=key, xlabel="step")
        ax.title.set_fontsize(TEXT)
        ax.tick_params(labelsize=TEXT - 1)
    fig.suptitle(title, fontsize=TEXT + 1)
    fig.tight_layout()
    return fig


def over_time(
    segments_s: np.ndarray, values: dict[str, Sequence[float]], references: dict[str, float], title: str = ""
):
    """Metrics measured on consecutive segments of one long piece, each next to its held-out reference."""
    fig, axes = plt.subplots(1, len(values), figsize=(WIDTH, 2.8), dpi=DPI, squeeze=False)
    for ax, (key, v) in zip(axes[0], values.items()):
        ax.plot(segments_s, v, marker="o", ms=3)
        if key in references:
            ax.axhline(references[key], color="k", ls="--", lw=1, label="held-out corpus")
        ax.set(title=key, xlabel="time in the piece (s)")
        ax.title.set_fontsize(TEXT)
        ax.tick_params(labelsize=TEXT - 1)
    axes[0][0].legend(fontsize=TEXT - 1)
    fig.suptitle(title, fontsize=TEXT + 1)
    fig.tight_layout()
    return fig
