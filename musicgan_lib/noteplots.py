"""Chapter 6's pictures of single notes: originals next to reconstructions, and the per-phase spectral error.

Figures are 9 inches wide with 9-pt text or larger, so they read at 100 % zoom in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .audio.analysis import plot_spectrogram

WIDTH = 9.0  # inches: a notebook column at 72 dpi
TEXT = 9  # points, the smallest text on a figure


def best_and_worst(scores: torch.Tensor, k: int = 2) -> tuple[list[int], list[int]]:
    """Indices of the k lowest and the k highest `scores` [N] (e.g. per-note MSS distance), best first."""
    order = torch.argsort(scores).tolist()
    return order[:k], order[::-1][:k]


def plot_note_pairs(
    originals: torch.Tensor,
    reconstructions: torch.Tensor,
    indices: Sequence[int],
    labels: Sequence[str],
    sr: int,
    suptitle: str = "",
):
    """One row per note in `indices`: the original's spectrogram, then the reconstruction's.

    originals, reconstructions: audio [N, S]; labels: one caption per index (name, pitch, score).
    """
    fig, axes = plt.subplots(len(indices), 2, figsize=(WIDTH, 2.1 * len(indices)), squeeze=False)
    for row, i, label in zip(axes, indices, labels):
        plot_spectrogram(originals[i], sr, ax=row[0], title=f"original: {label}", log_freq=True, colors=16)
        plot_spectrogram(reconstructions[i], sr, ax=row[1], title="reconstruction", log_freq=True, colors=16)
        for ax in row:
            ax.title.set_fontsize(TEXT + 1)
            ax.tick_params(labelsize=TEXT)
            ax.xaxis.label.set_fontsize(TEXT)
            ax.yaxis.label.set_fontsize(TEXT)
    if suptitle:
        fig.suptitle(suptitle, fontsize=TEXT + 2)

    return fig


def plot_phase_errors(by_font: dict[str, dict[str, dict[str, float]]]):
    """Bar chart of `metrics.audio.mss_by_phase` results: model / baseline MSS per phase, one bar per font.

    by_font: {font name: {phase: {"model", "baseline", "ratio"}}}. Lower is better; 1 = no better
    than the mean note of the same pitch.
    """
    phases = list(next(iter(by_font.values())))
    fig, ax = plt.subplots(figsize=(WIDTH * 0.6, 2.8))
    width = 0.8 / len(by_font)
    for j, (font, result) in enumerate(by_font.items()):
        ratios = [result[p]["ratio"] for p in phases]
        bars = ax.bar(np.arange(len(phases)) + j * width, ratios, width, label=font)
        ax.bar_label(bars, fmt="%.2f", fontsize=TEXT)
    ax.set_xticks(np.arange(len(phases)) + width * (len(by_font) - 1) / 2, phases, fontsize=TEXT + 1)
    ax.set_ylabel("MSS model / mean-note baseline", fontsize=TEXT)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_title("what the decoder keeps, by note phase (lower is better)", fontsize=TEXT + 1)
    ax.legend(fontsize=TEXT)
    ax.tick_params(labelsize=TEXT)

    return fig
