"""The note chapters' figures. Chapter 6: originals next to reconstructions, and the per-phase spectral
error. Chapter 7: the latent GAN's training curves, latent maps, nearest-neighbour and NDB checks.

Figures are 9 inches wide with 9-pt text or larger, so they read at 100 % zoom in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from .audio.analysis import plot_spectrogram
from .data.notes import FAMILIES
from .metrics.distribution import ndb, nearest_neighbour_distances
from .metrics.latent_eval import ROW_LABELS, Evaluator

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


# --------------------------------------------------------------------------- chapter 7: the latent GAN


def plot_training(
    history: dict[str, list[float]],
    latent_fd: tuple[list[int], list[float]] | None = None,
    title: str = "",
    floor: float | None = None,
):
    """Critic's Wasserstein estimate and penalty over steps, and (optionally) the latent FD curve."""
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
    """Each sample set's standardised latents projected on the first two principal axes of `reference`.

    latents: {set: standardised latents [N, Z]}; families: {set: family indices [N]}; reference: [M, Z].
    """
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
