"""Pictures for chapter 1: real vs generated scatter over training, the critic's decision
surface, and loss curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from .data.toy2d import GaussianMixture2D


def _limits(mixture: GaussianMixture2D) -> float:
    return float(mixture.modes.abs().max()) + 1.0


def scatter_over_training(
    mixture: GaussianMixture2D, snapshots: list[tuple[int, Tensor]], n_real: int = 1000, cols: int = 6
):
    """One panel per snapshot: real points (grey) and generated points (colour)."""
    real = mixture.sample(n_real, torch.Generator().manual_seed(0))
    lim = _limits(mixture)
    shown = snapshots[:: max(1, len(snapshots) // cols)][:cols]
    fig, axes = plt.subplots(1, len(shown), figsize=(2.0 * len(shown), 2.1), squeeze=False)
    for ax, (step, fake) in zip(axes[0], shown):
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=f"step {step}", xticks=[], yticks=[], aspect="equal")
    return fig


@torch.no_grad()
def decision_surface(critic: nn.Module, mixture: GaussianMixture2D, generated: Tensor, resolution: int = 120):
    """The discriminator's belief that a point is real, as a heat map under the samples."""
    lim = _limits(mixture)
    xs = torch.linspace(-lim, lim, resolution)
    xx, yy = torch.meshgrid(xs, xs, indexing="xy")
    points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
    pack = getattr(critic, "pack", 1)
    was_training = critic.training
    critic.eval()
    if getattr(critic, "minibatch_std", False):
        # This critic also looks at its batch's spread: score each point as part of a
        # generated batch, the way it meets points in training.
        chunks = [critic(torch.cat([generated, chunk]))[len(generated) :] for chunk in points.split(64)]
        logits = torch.cat(chunks).reshape(-1)
    else:
        logits = critic(points.repeat_interleave(pack, dim=0)).reshape(-1)
    critic.train(was_training)
    prob = torch.sigmoid(logits).reshape(resolution, resolution).cpu().numpy()  # matplotlib wants arrays, not tensors
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    im = ax.imshow(prob, extent=(-lim, lim, -lim, lim), origin="lower", cmap="RdBu_r", vmin=0, vmax=1)
    ax.scatter(generated[:, 0], generated[:, 1], s=2, c="k", alpha=0.4)
    ax.scatter(mixture.modes[:, 0], mixture.modes[:, 1], s=30, marker="x", c="gold")
    fig.colorbar(im, ax=ax, label="D(x): P(real)")
    ax.set(title="discriminator's decision surface", xticks=[], yticks=[])
    return fig


def loss_curves(history: dict[str, list[float]], keys=("d_loss", "g_loss"), smooth: int = 50, title: str = ""):
    """Training losses, smoothed with a running mean over `smooth` steps."""
    fig, ax = plt.subplots(figsize=(5, 2.4))
    steps = torch.tensor(history["step"], dtype=torch.float32)
    for key in keys:
        values = torch.tensor(history[key])
        if len(values) > smooth:
            kernel = torch.ones(smooth) / smooth
            values = torch.conv1d(values[None, None], kernel[None, None]).flatten()
            ax.plot(steps[smooth - 1 :], values, label=key)
        else:
            ax.plot(steps, values, label=key)
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.legend()
    return fig


def samples_by_method(runs, mixture_name: str, seed: int = 0):
    """Final samples of each method side by side (one seed) for one mixture."""
    chosen = [r for r in runs if r.mixture == mixture_name and r.seed == seed]
    fig, axes = plt.subplots(1, len(chosen), figsize=(2.4 * len(chosen), 2.6), squeeze=False)
    for ax, run in zip(axes[0], chosen):
        fake = (
            run.snapshots[-1][1]
            if run.snapshots
            else run.generator(torch.randn(1000, run.generator.latent_dim)).detach()
        )
        lim = float(fake.abs().max()) if len(fake) else 1.0
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.5)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
        ax.set(
            title=f"{run.method}\n{run.report.modes_covered}/{run.report.n_modes} modes",
            xticks=[],
            yticks=[],
            aspect="equal",
        )
    return fig
