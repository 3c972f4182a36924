"""Figures of the sprite chapters (2-4): training curves, critic estimates, growth schedules.

The report layer for images, beside `toyplots.py` (chapter 1), `noteplots.py` (6-7) and
`songplots.py` (8). Sprite grids and GIFs themselves are in `imaging.py`; this module draws the
matplotlib figures that recipes used to define next to their training code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from .data.progan_sprites import to_eval_space
from .data.sprites import SPRITE_ATTRIBUTES
from .metrics.attributes import SpriteAttributeClassifier, predict_attributes
from .metrics.sprite_eval import sample_generator, sprite_classifier, standing_copy
from .metrics.wgan_curves import critic_weights, median_filter
from .models.conditional import AttributeCodes
from .models.progan_schedule import GrowthSchedule
from .train import CurvePoint, Snapshot


# ---- chapter 4: progressive growing ------------------------------------------------------------
_RES_COLOURS = {4: "#c6dbef", 8: "#9ecae1", 16: "#6baed6", 32: "#3182bd", 64: "#08519c"}


def plot_schedule(schedule: GrowthSchedule, ax=None, x: str = "images"):
    """The schedule as a timeline: one bar per phase (colour = resolution, hatched = fade), alpha on top."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.9))
    scale = 1000.0 if x == "images" else 1.0
    for p in schedule.phases:
        x0 = (p.start_images if x == "images" else p.start_step) / scale
        w = (p.images if x == "images" else p.steps) / scale
        ax.barh(
            0,
            w,
            left=x0,
            height=0.8,
            color=_RES_COLOURS.get(p.resolution, "0.5"),
            edgecolor="k",
            linewidth=0.5,
            hatch="///" if p.kind == "fade" else None,
        )
        ax.text(x0 + w / 2, 0, f"{p.resolution}px\n{p.kind}", ha="center", va="center", fontsize=9)
    # alpha over the run
    xs, alphas = [], []
    for p in schedule.phases:
        x0 = (p.start_images if x == "images" else p.start_step) / scale
        w = (p.images if x == "images" else p.steps) / scale
        xs += [x0, x0 + w]
        alphas += [0.0, 1.0] if p.kind == "fade" else [1.0, 1.0]
    ax2 = ax.twinx()
    ax2.plot(xs, alphas, color="tab:red", lw=1.2)
    ax2.set_ylim(-0.05, 1.6)
    ax2.set_yticks([0, 1])
    ax2.set_ylabel("alpha", color="tab:red", fontsize=9)
    ax.set_yticks([])
    ax.set_xlim(0, xs[-1])
    ax.set_xlabel("thousands of real images shown" if x == "images" else "training step", fontsize=9)
    ax.figure.tight_layout()
    return ax.figure


def plot_fd_curve(
    curve: Sequence[CurvePoint],
    schedule: GrowthSchedule,
    floors: dict[int, float] | None = None,
    baselines: dict[str, list[dict]] | None = None,
    x: str = "seconds",
    ax=None,
):
    """FD over training (log scale) with growth points marked and, per resolution, the FD of real
    sprites at that resolution (the best a generator that size can do); optionally baselines' curves."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    xs = [getattr(c, x) for c in curve]
    ax.plot(xs, [c.fd for c in curve], "o-", ms=3, color="tab:blue", label="ProGAN (EMA generator)")
    step_to_x = {c.step: getattr(c, x) for c in curve}
    for i, g in enumerate(schedule.growth_steps):
        if g in step_to_x:
            ax.axvline(step_to_x[g], color="k", ls=":", lw=0.8, label="growth (fade starts)" if i == 0 else None)
    if floors:
        for p in schedule.phases:
            if p.kind == "stable" or p.index == 0:
                pts = [c for c in curve if c.resolution == p.resolution]
                if pts:
                    ax.hlines(
                        floors[p.resolution],
                        getattr(pts[0], x),
                        getattr(pts[-1], x),
                        colors=_RES_COLOURS.get(p.resolution, "0.5"),
                        linestyles="--",
                        lw=1.2,
                    )
        ax.plot([], [], "--", color="0.5", label="real sprites at that resolution")
    for name, pts in (baselines or {}).items():
        if pts:
            ax.plot([p[x] for p in pts], [p["fd"] for p in pts], "s-", ms=3, lw=1, label=name)
    ax.set_yscale("log")
    ax.set_xlabel({"seconds": "training time (s)", "images": "real images shown", "step": "step"}[x], fontsize=9)
    ax.set_ylabel("FD (32x32 features)", fontsize=9)
    ax.legend(fontsize=9, frameon=False)
    ax.figure.tight_layout()
    return ax.figure


def snapshot_grid(snapshots: Sequence[Snapshot], per_snapshot: int = 4, scale: int = 2) -> np.ndarray:
    """One row per snapshot: its first sprites, shown at 32x32 (nearest) and labelled res / alpha."""
    from .imaging import image_grid, label_frame

    rows = []
    for s in snapshots:
        img = image_grid(to_eval_space(s.images[:per_snapshot]), nrow=per_snapshot, scale=scale)
        rows.append(label_frame(img, f"{s.resolution}px {s.kind} a={s.alpha:.2f} step {s.step}"))
    return np.concatenate(rows, axis=0)


# ---- chapter 2: pictures of a trained generator ----------------------------------------------
@torch.no_grad()
def interpolation_pairs(
    generator: nn.Module,
    pairs: int = 3,
    seed: int = 11,
    candidates: int = 64,
    classifier: SpriteAttributeClassifier | None = None,
) -> list[tuple[Tensor, Tensor]]:
    """Latent pairs ([latent_dim], [latent_dim]) whose samples are confident characters that differ in
    as many attributes as possible (so an interpolation between them has something to show).

    Returns `pairs` tuples (z_a [Z], z_b [Z]) with Z = generator.latent_dim, on the CPU.
    """
    z = torch.randn(candidates, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    clf = classifier if classifier is not None else sprite_classifier("cpu")
    probs = predict_attributes(clf, sample_generator(generator, candidates, latents=z))
    conf = torch.stack([p.max(1).values for p in probs.values()], 1).min(1).values
    pred = torch.stack([p.argmax(1) for p in probs.values()], 1)
    order = torch.argsort(conf, descending=True).tolist()
    used: set[int] = set()
    out = []
    for i in order:
        if len(out) == pairs:
            break
        if i in used:
            continue
        rest = [j for j in order if j != i and j not in used]
        if not rest:
            break
        # most attributes different, ties broken by confidence (order is by confidence)
        j = max(rest, key=lambda j: (int((pred[i] != pred[j]).sum()), -rest.index(j)))
        used.update((i, j))
        out.append((z[i], z[j]))
    return out


@torch.no_grad()
def attribute_sweeps(generator: AttributeCodes, seed: int = 7) -> tuple[Tensor, list[str]]:
    """What a conditional generator's codes control: one row per attribute, same noise and other
    attributes, that attribute run through all its values (rows padded with blank tiles).
    Any generator with attribute codes works (chapter 2's `CodedGenerator`, chapter 4's `CodedProGenerator`).
    `seed` draws the noise (7: chapter 2's `GRID_LATENT_SEED`).

    Returns images [n_attributes * max_values, 3, 32, 32] (for `image_grid(..., nrow=max_values)`)
    and one label per row, e.g. "hair_colour: black .. pink".
    """
    if not isinstance(generator, AttributeCodes):
        raise TypeError(
            "attribute_sweeps needs a conditional generator (one with attribute codes, e.g. models.conditional.CodedGenerator)"
        )
    width = max(generator.sizes)
    g = standing_copy(generator)
    z = torch.randn(1, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    base = generator.labels_of(z)[0]
    rows, names = [], []
    for j, (name, values) in enumerate(SPRITE_ATTRIBUTES.items()):
        labels = base.repeat(len(values), 1)
        labels[:, j] = torch.arange(len(values))
        images = sample_generator(
            g, len(values), latents=generator.with_labels(z.repeat(len(values), 1), labels)
        ).clamp(-1.0, 1.0)
        pad = torch.ones(width - len(values), *images.shape[1:])
        rows.append(torch.cat([images, pad]))
        names.append(f"{name}: {values[0]} .. {values[-1]}")
    return torch.cat(rows), names


# ---- chapter 3: the critic's estimate, its gradient norm and FD over training time -----------
# Each takes {name: run} of chapter 3's runs (`recipes.wgan.WGANRun`: history, curve, probes, critic).
def _minutes(seconds: Sequence[float]) -> np.ndarray:
    return np.asarray(seconds, dtype=np.float64) / 60.0


def _finite(v: float | None) -> bool:
    return v is not None and math.isfinite(v)


def estimate_and_fd_figure(runs: Mapping[str, object], window: int | None = None):
    """One row per run: the critic estimate (raw and median-filtered) against training time,
    and next to it the FD measured at the same checkpoints (with the real-vs-real floor)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(runs), 2, figsize=(7.5, 2.2 * len(runs)), squeeze=False)
    for (name, run), (a, b) in zip(runs.items(), axes):
        every = int(run.meta.get("history_every", 1)) if run.meta else 1
        win = window or int(run.config.get("critic_window", 51))
        t = _minutes(run.history["seconds"])
        est = np.asarray(run.history["estimate"], dtype=np.float64)
        a.plot(t, est, c="0.8", lw=0.5, label="per step")
        a.plot(t, median_filter(est, max(1, win // every)), c="tab:blue", lw=1.2, label=f"median of {win} steps")
        a.scatter(
            _minutes([p.seconds for p in run.curve]),
            [p.critic_estimate for p in run.curve],
            c="tab:red",
            s=12,
            zorder=3,
            label="checkpoints",
        )
        a.set(title=f"{name}: critic estimate of W", xlabel="training time (min)")
        lo, hi = np.percentile(est, [1, 99.5]) if len(est) else (0, 1)
        a.set_ylim(min(lo, 0) - 0.05 * (hi - lo), hi + 0.1 * (hi - lo))
        a.legend(loc="upper right")
        b.plot(
            _minutes([p.seconds for p in run.curve]),
            [p.fd for p in run.curve],
            "o-",
            c="tab:red",
            ms=3,
            label="FD (generated vs real)",
        )
        if math.isfinite(run.fd_floor_curve):
            b.axhline(run.fd_floor_curve, ls="--", c="0.5", lw=1, label="real-vs-real floor")
        b.set(
            title=f"{name}: Fréchet distance, N={run.config.get('curve_n')}", xlabel="training time (min)", yscale="log"
        )
        b.legend(loc="upper right")
    return fig


def grad_norm_figure(runs: Mapping[str, object]):
    """Mean per-sample critic gradient norm at random interpolates over training (log scale)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.4))
    for name, run in runs.items():
        if run.probes:
            _, sec, norm = zip(*run.probes)
            ax.plot(_minutes(sec), norm, lw=1, label=name)
    ax.axhline(1.0, ls="--", c="0.4", lw=1, label="the 1-Lipschitz target")
    ax.set(
        yscale="log",
        xlabel="training time (min)",
        ylabel=r"$\|\nabla_x D(\hat x)\|$",
        title="critic gradient norm at interpolates",
    )
    ax.legend()
    return fig


def weight_histogram_figure(runs: Mapping[str, object]):
    """Histogram of each critic's conv weights: clipping piles them up at +-c."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(3.0 * len(runs), 2.2), squeeze=False)
    for (name, run), ax in zip(runs.items(), axes[0]):
        w = critic_weights(run.critic)
        ax.hist(w, bins=81, color="tab:purple")
        ax.set(title=f"{name} critic weights", xlabel="value", yscale="log")
    return fig


def fd_over_time_figure(runs: Mapping[str, object]):
    """FD at the checkpoints of every run against training time: equal time, who is ahead?"""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.0, 2.5))
    floor = None
    for name, run in runs.items():
        t = _minutes([p.seconds for p in run.curve])
        (line,) = ax.plot(t, [p.fd for p in run.curve], "o-", ms=3, label=name)
        ema = [p.fd_ema for p in run.curve]
        if any(_finite(v) for v in ema):
            ax.plot(t, [v if v is not None else math.nan for v in ema], "--", c=line.get_color(), lw=1,
                    label=f"{name}, EMA weights")  # fmt: skip
        floor = run.fd_floor_curve if math.isfinite(run.fd_floor_curve) else floor
    if floor is not None:
        ax.axhline(floor, ls="--", c="0.5", lw=1, label="real-vs-real floor")
    ax.set(yscale="log", xlabel="training time (min)", ylabel="FD", title="Fréchet distance at equal training time")
    ax.legend()
    return fig


# ---- chapter 2: memorising a small real set --------------------------------------------------------
def memorising_figure(logs: Mapping[str, Sequence[Mapping[str, float]]]):
    """One panel per run: the discriminator's mean P(real) on training sprites and on held-out real
    sprites over training (`musicgan train sprites`' log: step, d_prob_train, d_prob_held_out).
    A gap between the two lines is memorising: held-out sprites are as real as training ones."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(logs), figsize=(4.2 * len(logs), 2.8), sharey=True, squeeze=False)
    for ax, (name, log) in zip(axes[0], logs.items()):
        steps = [e["step"] for e in log]
        ax.plot(steps, [e["d_prob_train"] for e in log], "o-", lw=1.5, label="training sprites")
        ax.plot(steps, [e["d_prob_held_out"] for e in log], "s--", lw=1.5, label="held-out real sprites")
        ax.set(title=name, xlabel="step", ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("discriminator's P(real)")
    axes[0, 0].legend(loc="center left")
    fig.tight_layout()
    return fig
