"""An attribute classifier for sprites, and the coverage / KL metrics built on it.

Why a classifier: "did the GAN collapse?" is a question about *which* characters it makes.
A small CNN trained on procedural sprites (labels are exact) reads hair colour, hair style,
skin, shirt and accessory off each generated sprite. From its predictions we get
- high quality: the fraction of samples every head is confident about (>= 0.9),
- coverage: distinct attribute combinations among high-quality samples / all combinations,
- KL of the generated attribute histograms to the true (uniform) ones,
and its 64-d penultimate layer is the feature space for Fréchet distance / KID
(`musicgan_lib.metrics.frechet`).

The trained weights ship in `assets/sprite_classifier.safetensors`
(`scripts/make_sprite_classifier.py` rebuilds them); `load_sprite_classifier()` loads them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from musicgan_lib.data.sprites import (
    ATTRIBUTE_COLOURS,
    SPRITE_ATTRIBUTES,
    SPRITE_SIZE,
    attribute_distribution,
    make_sprites,
)
from musicgan_lib.metrics.frechet import PenultimateFeatures
from musicgan_lib.weights import load_weights, read_weights_meta, save_weights, weights_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ASSET_PATH = weights_path("sprite_classifier", None)  # one classifier for every profile
MAKE_SCRIPT = "scripts/make_sprite_classifier.py"
KIND = "sprite_attribute_classifier"
TRAINING_DATA = "procedural sprites (data.sprites.make_sprites), fresh ones at every step"
KL_EPS = 1e-10


class SpriteAttributeClassifier(nn.Module):
    """Three conv blocks -> a `feature_dim`-d feature layer -> one linear head per attribute.

    `forward` returns {attribute: logits}; `features` returns the penultimate features that
    Fréchet distance / KID use (pre-activation, so they are closer to Gaussian).
    """

    def __init__(
        self,
        attributes: Mapping[str, Sequence[str]] = SPRITE_ATTRIBUTES,
        width: int = 16,
        feature_dim: int = 64,
        image_size: int = SPRITE_SIZE,
    ) -> None:
        super().__init__()
        if image_size % 8:
            raise ValueError(f"image_size must be a multiple of 8, got {image_size}")
        self.attributes = {str(k): tuple(str(v) for v in vals) for k, vals in attributes.items()}
        self.config = {"width": width, "feature_dim": feature_dim, "image_size": image_size}
        self.image_size = image_size
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * w * (image_size // 8) ** 2, feature_dim),
        )  # fmt: skip
        self.heads = nn.ModuleDict({k: nn.Linear(feature_dim, len(v)) for k, v in self.attributes.items()})
        # Fixed affine map applied to `features` only (set by `calibrate_features` after training):
        # centres real features and scales them to unit mean variance, so FD / KID values have
        # sensible units (KID's polynomial kernel assumes features of order 1).
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_scale", torch.ones(()))

    def _check(self, x: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        if x.ndim != 4 or x.shape[1:] != (3, s, s):
            raise ValueError(f"expected images of shape [N, 3, {s}, {s}] in [-1, 1], got {tuple(x.shape)}")
        return x.float()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features [N, feature_dim] of images in [-1, 1], calibrated on real sprites."""
        return (self.body(self._check(x)) - self.feature_mean) / self.feature_scale

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """x: images [N, 3, S, S] in [-1, 1] (S = image_size) -> {attribute: logits [N, K]} (K values)."""
        h = torch.relu(self.body(self._check(x)))
        return {k: head(h) for k, head in self.heads.items()}

    @torch.no_grad()
    def calibrate_features(self, real_images: torch.Tensor, batch_size: int = 1000) -> None:
        """Set the feature centring/scaling from real images: mean 0, mean per-dimension variance 1.

        real_images: [N, 3, S, S] in [-1, 1] (S = image_size), fed in chunks of batch_size.

        One scalar scale (not per-dimension) keeps the geometry of the feature space intact.
        """
        dev = self.feature_mean.device
        chunks = [real_images[i : i + batch_size].to(dev) for i in range(0, len(real_images), batch_size)]
        raw = torch.cat([self.body(self._check(c)) for c in chunks])
        self.feature_mean.copy_(raw.mean(0))
        self.feature_scale.copy_(raw.var(0).mean().sqrt().clamp_min(1e-8))

    def feature_extractor(self) -> nn.Module:
        """An nn.Module whose forward gives `features`: what `frechet_report` wants."""
        return PenultimateFeatures(self)


def _device_of(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def _check_range(images: torch.Tensor) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise ValueError("images must be a [N, 3, H, W] tensor in [-1, 1]")
    if images.shape[0] == 0:
        raise ValueError("images is empty: pass at least one sprite")
    lo, hi = float(images.min()), float(images.max())
    if hi > 2.0 or lo < -2.0:
        raise ValueError(
            f"images range over [{lo:.3g}, {hi:.3g}]; the metrics expect [-1, 1] "
            "(e.g. x / 127.5 - 1 for 0..255 pixels, or 2 * x - 1 for 0..1)"
        )


def train_attribute_classifier(
    steps: int = 1200,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: str | torch.device = "cpu",
    noise: float = 0.1,
    width: int = 16,
    feature_dim: int = 64,
    log_every: int = 0,
) -> SpriteAttributeClassifier:
    """Train the classifier on fresh procedural sprites every step (they cost ~nothing to make).

    Half of each batch gets Gaussian pixel noise (sigma up to `noise`) so the heads stay
    sensible on slightly noisy GAN samples instead of only on perfectly flat palettes.
    Returns the model in eval mode, its features calibrated on 8,192 more real sprites.
    """
    torch.manual_seed(seed)
    dev = torch.device(device)
    model = SpriteAttributeClassifier(width=width, feature_dim=feature_dim).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    g = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    t0 = time.perf_counter()
    for step, (_, x, y) in enumerate(_training_batches(g, steps, batch_size, noise)):
        x, y = x.to(dev), y.to(dev)
        logits = model(x)
        loss = sum(loss_fn(logits[k], y[:, j]) for j, k in enumerate(model.attributes))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if log_every and (step % log_every == 0 or step == steps - 1):
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - t0:.1f}s")
    model.eval()
    model.calibrate_features(make_sprites(8192, g).images)
    return model


def _training_batches(g: torch.Generator, steps: int, batch_size: int, noise: float):
    """What `train_attribute_classifier` learns from, step by step: (clean sprites, the same with
    Gaussian pixel noise of sigma up to `noise` on the first half, labels), all drawn from `g`."""
    for _ in range(steps):
        clean, y = make_sprites(batch_size, g)
        half = batch_size // 2
        sigma = torch.rand(half, 1, 1, 1, generator=g) * noise
        x = clean.clone()
        x[:half] = x[:half] + sigma * torch.randn(x[:half].shape, generator=g)
        yield clean, x, y


def seen_in_training(images: torch.Tensor, *, steps: int, batch_size: int, seed: int) -> torch.Tensor:
    """A bool mask: which of `images` `train_attribute_classifier(steps, batch_size, seed=seed)`
    trained on (clean or with its pixel noise; the noise level does not change which sprites).

    images [N, 3, 32, 32] in [-1, 1] -> bool mask [N] (on the CPU).

    Why: procedural sprites come from a finite set (480 combinations x poses x 1-pixel offsets,
    about 35,000 images), so a fresh draw repeats many training sprites, and accuracy on it is not
    held-out accuracy. Measure that on the images this mask leaves out.
    """
    seen = set()
    for clean, _, _ in _training_batches(torch.Generator().manual_seed(seed), steps, batch_size, 0.0):
        seen.update(row.numpy().tobytes() for row in clean)
    return torch.tensor(
        [row.numpy().tobytes() in seen for row in images.detach().float().cpu().contiguous()], dtype=torch.bool
    )


@torch.no_grad()
def predict_attributes(
    classifier: SpriteAttributeClassifier, images: torch.Tensor, batch_size: int = 500
) -> dict[str, torch.Tensor]:
    """Softmax probabilities per attribute, {name: [N, n_values]} on the CPU."""
    _check_range(images)
    was_training = classifier.training
    classifier.eval()
    dev = _device_of(classifier)
    out: dict[str, list[torch.Tensor]] = {k: [] for k in classifier.attributes}
    try:
        for i in range(0, images.shape[0], batch_size):
            logits = classifier(images[i : i + batch_size].to(dev))
            for k, v in logits.items():
                out[k].append(torch.softmax(v.float(), dim=1).cpu())
    finally:
        classifier.train(was_training)
    return {k: torch.cat(v) for k, v in out.items()}


def attribute_accuracy(
    classifier: SpriteAttributeClassifier, images: torch.Tensor, labels: torch.Tensor
) -> dict[str, float]:
    """Per-head accuracy against integer labels [N, n_attributes]."""
    probs = predict_attributes(classifier, images)
    labels = labels.cpu()
    return {k: float((p.argmax(1) == labels[:, j]).float().mean()) for j, (k, p) in enumerate(probs.items())}


def save_sprite_classifier(
    model: SpriteAttributeClassifier,
    path: str | Path = ASSET_PATH,
    extra_meta: Mapping[str, Any] | None = None,
    *,
    steps: int = 0,
    train_seconds: float = 0.0,
    data: Mapping[str, Any] | str = TRAINING_DATA,
) -> Path:
    """Write the classifier with its architecture config and attribute names in the metadata
    (`weights.save_weights`: also how long it trained and on what)."""
    meta = {"attributes": model.attributes, **dict(extra_meta or {})}
    return save_weights(path, {"classifier": model}, kind=KIND, config=dict(model.config), steps=steps,
                        train_seconds=train_seconds, data=data, meta=meta)  # fmt: skip


def load_sprite_classifier(
    device: str | torch.device = "cpu", path: str | Path | None = None
) -> SpriteAttributeClassifier:
    """The shipped attribute classifier, frozen, in eval mode, on `device` ("auto" allowed)."""
    from musicgan_lib.device import pick_device

    path = Path(path) if path is not None else ASSET_PATH
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="sprite classifier")
    attributes = {k: tuple(v) for k, v in meta.get("attributes", {}).items()}
    if attributes != {k: tuple(v) for k, v in SPRITE_ATTRIBUTES.items()}:
        raise ValueError(
            f"{path} was trained for attributes {attributes}, but the sprite generator now has "
            f"{SPRITE_ATTRIBUTES}; rebuild it with `.venv/bin/python {MAKE_SCRIPT}`."
        )
    model = SpriteAttributeClassifier(attributes, **meta["config"])
    load_weights(path, {"classifier": model}, kind=KIND, make_script=MAKE_SCRIPT)
    model.meta = meta  # type: ignore[attr-defined]  # held-out accuracies etc., for display
    model.eval().requires_grad_(False)
    return model.to(pick_device(device))


# --------------------------------------------------------------------------------------------
@dataclass
class AttributeReport:
    """What the classifier says about a batch of sprites (see `attribute_report`)."""

    n: int
    high_quality: float
    coverage: float
    n_covered: int
    n_combinations: int
    kl: float
    kl_per_attribute: dict[str, float]
    histograms: dict[str, torch.Tensor]
    attributes: dict[str, tuple[str, ...]] = field(repr=False)
    threshold: float = 0.9

    def summary(self) -> str:
        """One line for a notebook: high quality, coverage, KL."""
        return (
            f"high quality {self.high_quality:.3f} | coverage {self.coverage:.3f} "
            f"({self.n_covered}/{self.n_combinations} combinations) | KL {self.kl:.3f} nats "
            f"(sum over {len(self.attributes)} attributes) | n={self.n}"
        )


def _kl(p: torch.Tensor, q: torch.Tensor) -> float:
    p = p.double() / p.sum()
    q = q.double() / q.sum()
    return float((p * (torch.log(p + KL_EPS) - torch.log(q + KL_EPS))).sum().clamp_min(0.0))


def attribute_report(
    classifier: SpriteAttributeClassifier,
    images: torch.Tensor,
    threshold: float = 0.9,
    true_distribution: Mapping[str, torch.Tensor] | None = None,
    batch_size: int = 500,
) -> AttributeReport:
    """Coverage, high-quality fraction and attribute KL of a batch of images in [-1, 1].

    - high_quality: fraction of samples where *every* head's top probability is >= threshold.
    - coverage: distinct predicted combinations among the high-quality samples divided by
      all combinations (compare it with `sprites.expected_coverage(n)`, the ideal at this n).
    - histograms: per attribute, the fraction of *all* samples predicted as each value.
    - kl: KL(generated || true) of those marginal histograms, in nats, **summed** over the
      attributes (per-attribute values in `kl_per_attribute`); eps = 1e-10 inside the logs.
      All-one-value on an attribute with k uniform values gives log k (e.g. 1.61 for 5 hair colours).
    """
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must lie in (0, 1], got {threshold}")
    probs = predict_attributes(classifier, images, batch_size)
    true = dict(true_distribution) if true_distribution is not None else attribute_distribution()
    names = list(classifier.attributes)
    missing = [k for k in names if k not in true]
    if missing:
        raise ValueError(f"true_distribution lacks attributes {missing}")
    conf = torch.stack([p.max(1).values for p in probs.values()], 1)
    pred = torch.stack([p.argmax(1) for p in probs.values()], 1)
    good = (conf >= threshold).all(1)
    sizes = [len(classifier.attributes[k]) for k in names]
    combo = torch.zeros(pred.shape[0], dtype=torch.long)
    for j, s in enumerate(sizes):
        combo = combo * s + pred[:, j]
    n_covered = int(torch.unique(combo[good]).numel())
    n_comb = math.prod(sizes)
    hists = {k: torch.bincount(pred[:, j], minlength=sizes[j]).double() / pred.shape[0] for j, k in enumerate(names)}
    kls = {}
    for k in names:
        q = torch.as_tensor(true[k], dtype=torch.float64).cpu()
        if q.shape != hists[k].shape:
            raise ValueError(f"true_distribution[{k!r}] has {q.numel()} values, the classifier {sizes[names.index(k)]}")
        kls[k] = _kl(hists[k], q)
    return AttributeReport(
        n=int(pred.shape[0]),
        high_quality=float(good.double().mean()),
        coverage=n_covered / n_comb,
        n_covered=n_covered,
        n_combinations=n_comb,
        kl=float(sum(kls.values())),
        kl_per_attribute=kls,
        histograms=hists,
        attributes=dict(classifier.attributes),
        threshold=threshold,
    )


def mode_collapse_plot(
    generated: AttributeReport,
    reference: AttributeReport | Mapping[str, torch.Tensor] | None = None,
    labels: tuple[str, str] = ("generated", "real"),
) -> Figure:
    """Per-attribute histograms, generated next to reference: collapse shows up at a glance.

    `reference` is a report on real sprites, a {attribute: probabilities [K]} mapping (K values), or None for
    the true (uniform) procedural distribution. Each panel's title carries that attribute's KL.
    """
    import matplotlib.pyplot as plt

    if reference is None:
        ref = attribute_distribution()
        labels = (labels[0], "true")
    elif isinstance(reference, AttributeReport):
        ref = reference.histograms
    else:
        ref = dict(reference)
    names = list(generated.histograms)
    fig, axes = plt.subplots(1, len(names), figsize=(1.9 * len(names) + 0.6, 2.3), squeeze=False)
    for ax, k in zip(axes[0], names):
        g = generated.histograms[k].double().cpu().tolist()
        r = torch.as_tensor(ref[k], dtype=torch.float64).cpu()
        r = (r / r.sum()).tolist()
        x = list(range(len(g)))
        ax.bar([i - 0.2 for i in x], g, width=0.4, label=labels[0], color="tab:orange")
        ax.bar([i + 0.2 for i in x], r, width=0.4, label=labels[1], color="tab:blue", alpha=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels(generated.attributes[k], rotation=45, ha="right", fontsize=9)
        ax.set_title(f"{k}\nKL {generated.kl_per_attribute[k]:.2f}", fontsize=9)
        ax.set_ylim(0, 1.0)
        ax.tick_params(axis="y", labelsize=9)
    axes[0][0].set_ylabel("fraction", fontsize=9)
    axes[0][-1].legend(fontsize=9, frameon=False, loc="upper right")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeakShare:
    """The largest share one value of an attribute reached at any check of a track."""

    attribute: str
    value: str
    share: float
    step: int
    uniform: float  # 1 / number of values: each value's share among real (procedural) sprites


@dataclass
class AttributeTrack:
    """A generator's per-attribute histograms at checks during training, one row per check.

    Why: the histograms at the end of a run show where the generator stopped, not the collapse
    it went through on the way; plain DCGAN's worst collapse comes early, and the value it
    collapses onto changes from one check to the next. Plain lists, so a track fits in a
    shipped file's JSON metadata (`to_meta` / `from_meta`).
    """

    attributes: dict[str, tuple[str, ...]]
    steps: list[int] = field(default_factory=list)
    histograms: dict[str, list[list[float]]] = field(default_factory=dict)
    high_quality: list[float] = field(default_factory=list)

    def add(self, step: int, report: AttributeReport) -> None:
        """Append one check: the histograms and high-quality share of `report`, taken at `step`."""
        if list(report.histograms) != list(self.attributes):
            raise ValueError(
                f"the report's attributes {list(report.histograms)} are not the track's {list(self.attributes)}"
            )
        if self.steps and step <= self.steps[-1]:
            raise ValueError(f"checks must come in training order: step {step} after step {self.steps[-1]}")
        self.steps.append(int(step))
        for k, h in report.histograms.items():
            self.histograms.setdefault(k, []).append([float(x) for x in h])
        self.high_quality.append(float(report.high_quality))

    def until(self, step: int) -> "AttributeTrack":
        """The checks taken at or before `step` (what a run resumed from that step has seen)."""
        keep = sum(1 for s in self.steps if s <= step)
        return AttributeTrack(
            dict(self.attributes),
            self.steps[:keep],
            {k: v[:keep] for k, v in self.histograms.items()},
            self.high_quality[:keep],
        )

    def peak_shares(self, since: int = 0) -> list[PeakShare]:
        """Per attribute, the largest share any one value reached at the checks from step `since`
        on, which value and at which step."""
        first = next((i for i, s in enumerate(self.steps) if s >= since), None)
        if first is None:
            raise ValueError(
                f"no check at or after step {since} (the last was at step {self.steps[-1] if self.steps else None})"
            )
        peaks = []
        for k, values in self.attributes.items():
            rows = torch.tensor(self.histograms[k][first:], dtype=torch.float64)  # [checks, values]
            check, value = divmod(int(rows.argmax()), len(values))
            peaks.append(
                PeakShare(k, values[value], float(rows[check, value]), self.steps[first + check], 1.0 / len(values))
            )
        return peaks

    def to_meta(self) -> dict[str, Any]:
        return {
            "attributes": {k: list(v) for k, v in self.attributes.items()},
            "steps": self.steps,
            "histograms": self.histograms,
            "high_quality": self.high_quality,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> "AttributeTrack":
        attributes = {k: tuple(v) for k, v in meta["attributes"].items()}
        return cls(
            attributes,
            list(meta["steps"]),
            {k: [list(r) for r in v] for k, v in meta["histograms"].items()},
            list(meta["high_quality"]),
        )


def collapse_over_training(track: AttributeTrack, title: str = "") -> Figure:
    """One panel per attribute: the share of each value among the generated sprites at every
    check, stacked. Real sprites would give equal bands; a band that fills its panel is a collapse
    onto that value, and bands that swell and shrink in turn are a generator hopping between them.
    Colour attributes are drawn in the sprites' own colours (red hair in red)."""
    import matplotlib.pyplot as plt

    if not track.steps:
        raise ValueError(
            "the track has no checks: train with tracking on (DCGANConfig.track_every > 0) for longer than one interval"
        )
    names = list(track.attributes)
    fig, axes = plt.subplots(
        1, len(names), figsize=(1.9 * len(names) + 0.6, 2.5), squeeze=False, sharey=True, layout="constrained"
    )
    for ax, k in zip(axes[0], names):
        shares = torch.tensor(track.histograms[k], dtype=torch.float64).T.tolist()  # [values][checks]
        colours = (
            [tuple(c / 255 for c in rgb) for rgb in ATTRIBUTE_COLOURS[k]]
            if k in ATTRIBUTE_COLOURS
            else plt.get_cmap("tab10").colors[: len(shares)]
        )
        ax.stackplot(track.steps, shares, labels=track.attributes[k], colors=colours, edgecolor="0.35", linewidth=0.3)
        for b in range(1, len(shares)):  # where the band edges would lie for real sprites
            ax.axhline(b / len(shares), color="0.5", lw=0.6, ls=":")
        ax.set_title(k, fontsize=9)
        ax.set(ylim=(0, 1), xlim=(track.steps[0], track.steps[-1]))
        ax.tick_params(labelsize=9)
        ax.legend(
            fontsize=9,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=2,
            frameon=False,
            handlelength=1.0,
            columnspacing=0.8,
        )
    axes[0][0].set_ylabel("share of samples", fontsize=9)
    fig.supxlabel("training step", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
