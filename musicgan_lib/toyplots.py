"""Pictures for chapter 1: real vs generated scatter over training, the critic's decision
surface, loss curves, and mode collapse over training (modes covered, and which mode the samples
sit on, step by step). Figures are as wide as a notebook's text column (about 9.5 in)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor, nn

from .data.toy2d import GaussianMixture2D

COLUMN_WIDTH = 9.5  # inches: the notebook's text column at 100 dpi


def _limits(mixture: GaussianMixture2D) -> float:
    return float(mixture.modes.abs().max()) + 1.0


def scatter_over_training(
    mixture: GaussianMixture2D, snapshots: list[tuple[int, Tensor]], n_real: int = 1000, cols: int = 6
):
    """One panel per snapshot: real points (grey) and generated points (colour).

    snapshots: (step, generated points [N, 2]) pairs, e.g. from `make_toy_trainer`.
    """
    real = mixture.sample(n_real, torch.Generator().manual_seed(0))
    lim = _limits(mixture)
    shown = snapshots[:: max(1, len(snapshots) // cols)][:cols]
    side = COLUMN_WIDTH / max(len(shown), 4)
    fig, axes = plt.subplots(1, len(shown), figsize=(side * len(shown), side + 0.35), squeeze=False)
    for ax, (step, fake) in zip(axes[0], shown):
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="real")
        ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), title=f"step {step}", xticks=[], yticks=[], aspect="equal")
    return fig


@torch.no_grad()
def decision_surface(
    critic: nn.Module, mixture: GaussianMixture2D, generated: Tensor, resolution: int = 120, ax: plt.Axes | None = None
):
    """The discriminator's belief that a point is real, as a heat map under the samples ([N, 2]);
    drawn on `ax` when given, else on a new figure. Returns the figure."""
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
    fig = ax.figure if ax is not None else plt.subplots(figsize=(4.4, 3.8))[0]
    ax = ax if ax is not None else fig.axes[0]
    im = ax.imshow(prob, extent=(-lim, lim, -lim, lim), origin="lower", cmap="RdBu_r", vmin=0, vmax=1)
    ax.scatter(generated[:, 0], generated[:, 1], s=2, c="k", alpha=0.4)
    ax.scatter(mixture.modes[:, 0], mixture.modes[:, 1], s=30, marker="x", c="gold")
    fig.colorbar(im, ax=ax, label="D(x): P(real)")
    ax.set(title="discriminator's decision surface", xticks=[], yticks=[])
    return fig


def loss_curves(
    history: dict[str, list[float]],
    keys=("d_loss", "g_loss"),
    smooth: int = 50,
    title: str = "",
    ax: plt.Axes | None = None,
):
    """Training losses, smoothed with a running mean over `smooth` steps; on `ax` when given."""
    fig = ax.figure if ax is not None else plt.subplots(figsize=(COLUMN_WIDTH, 3.0))[0]
    ax = ax if ax is not None else fig.axes[0]
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
    side = COLUMN_WIDTH / max(len(chosen), 3)
    fig, axes = plt.subplots(1, len(chosen), figsize=(side * len(chosen), side + 0.5), squeeze=False)
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


def modes_over_training(runs, mixture: GaussianMixture2D, methods: list[str]):
    """Modes covered (VEEGAN rule) at each tracked step: the mean over seeds as a line, the worst
    and best seed as a band, one colour per method."""
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 3.2))
    for method in methods:
        tracks = [r.track for r in runs if r.mixture == mixture.name and r.method == method and r.track]
        if not tracks:
            continue
        steps = [step for step, _ in tracks[0]]
        modes = torch.tensor([[float(report.modes_covered) for _, report in track] for track in tracks])
        (line,) = ax.plot(steps, modes.mean(0), label=f"{method} ({len(tracks)} seeds)")
        ax.fill_between(steps, modes.min(0).values, modes.max(0).values, color=line.get_color(), alpha=0.15)
    n = len(mixture.modes)
    ax.set(xlabel="training step", ylabel="modes covered", ylim=(-0.3, n + 0.3), title=f"{mixture.name}: modes covered")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


def mode_occupancy(runs, mixture: GaussianMixture2D, method: str):
    """Which mode the samples sit on, step by step: one panel per seed, a column per tracked step,
    a row per mode, coloured by the share of all samples nearest that mode (good or blurry). A
    collapsed generator is one bright cell per column, and the bright row hops as it chases D."""
    chosen = [r for r in runs if r.mixture == mixture.name and r.method == method and r.track]
    fig, axes = plt.subplots(1, len(chosen), figsize=(COLUMN_WIDTH, 3.0), squeeze=False, sharey=True)
    for ax, run in zip(axes[0], chosen):
        steps = [step for step, _ in run.track]
        share = torch.tensor([report.nearest_share for _, report in run.track]).T  # [modes, tracked steps]
        half = (steps[1] - steps[0]) / 2 if len(steps) > 1 else 0.5
        im = ax.imshow(
            share, aspect="auto", origin="lower", cmap="magma", vmin=0, vmax=1,
            extent=(steps[0] - half, steps[-1] + half, -0.5, len(share) - 0.5),
        )  # fmt: skip
        ax.set(title=f"seed {run.seed}: {run.report.modes_covered} modes at the end", xlabel="step")
    axes[0][0].set_ylabel("mode (nearest)")
    fig.colorbar(im, ax=axes[0].tolist(), label="share of samples")
    fig.suptitle(f"{method} on the {mixture.name}: where the samples sit")
    return fig
