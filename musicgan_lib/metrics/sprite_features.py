"""A generic feature space for any sprite set: FD, KID, precision and recall without attributes.

Chapter 2's attribute classifier knows only the procedural sprites (hair, hat, shirt...). A
user's own sprites need features that exist without downloads and without labels, so this
project trains a small network itself, self-supervised, on many kinds of sprites: the
procedural characters and the real freeciv art (flags, shields, buildings, units; GPL-2+, from
Debian's `freeciv-data`, `data.sprite_sets`). The objective is SimCLR's (Chen et al. 2020): two
random augmentations of the same sprite (translation, flip, colour, cutout) must map close
together and far from every other sprite in the batch (NT-Xent loss at temperature 0.2). What is
left in the 128 features is what survives those changes: shapes, layouts, palettes, styles.

`scripts/make_sprite_features.py` trains it (a few CPU minutes) and ships
`assets/sprite_features.safetensors`; `generic_sprite_report` scores any generated set against
real ones: FD and KID next to their real-vs-real floors at the same N, plus precision and recall
at k = 3 (`metrics.precision_recall`). It is validated on chapter 2's shipped generators: its FD
must rank them as the attribute-based FD does (`tests/test_sprite_features.py`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..models.diffaugment import color, cutout, translation
from ..weights import load_weights, read_weights_meta, save_weights, weights_path
from .frechet import frechet_report
from .precision_recall import precision_recall

ASSET_PATH = weights_path("sprite_features", None)
MAKE_SCRIPT = "scripts/make_sprite_features.py"
KIND = "sprite_features"
FEATURES = 128


class SpriteFeatureNet(nn.Module):
    """Sprites [B, 3, 32, 32] in [-1, 1] -> features [B, 128] (and, for training, projections [B, 64]).

    Four convolutions (32 -> 16 -> 8 -> 4 px) with GroupNorm, which keeps each sprite's features
    independent of the rest of the batch (needed for FD on any batch size), then one linear layer.
    """

    def __init__(self, width: int = 16, features: int = FEATURES) -> None:
        super().__init__()
        self.config = {"width": width, "features": features}
        w = width

        def block(cin: int, cout: int, stride: int) -> list[nn.Module]:
            k = 3 if stride == 1 else 4
            return [nn.Conv2d(cin, cout, k, stride, 1), nn.GroupNorm(8, cout), nn.LeakyReLU(0.2)]

        self.body = nn.Sequential(
            *block(3, w, 1), *block(w, 2 * w, 2), *block(2 * w, 4 * w, 2), *block(4 * w, 4 * w, 2), nn.Flatten()
        )
        self.head = nn.Linear(4 * w * 4 * 4, features)
        self.projection = nn.Sequential(nn.Linear(features, features), nn.ReLU(), nn.Linear(features, 64))

    def forward(self, x: Tensor) -> Tensor:
        """Sprites [B, 3, 32, 32] -> features [B, 128]: the space every generic metric is measured in."""
        return self.head(self.body(x))

    def project(self, x: Tensor) -> Tensor:
        """Sprites [B, 3, 32, 32] -> unit-length projections [B, 64], where the contrastive loss is taken."""
        return F.normalize(self.projection(self(x)), dim=1)


def augment(x: Tensor) -> Tensor:
    """One random view of each sprite [B, 3, 32, 32]: translation (1/8), horizontal flip, colour, cutout (1/4)."""
    x = translation(x, 0.125)
    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    x = torch.where(flip, x.flip(3), x)
    return cutout(color(x), 0.25)


def nt_xent(a: Tensor, b: Tensor, temperature: float = 0.2) -> Tensor:
    """SimCLR's loss for unit projections a, b [B, D] of two views of the same B sprites: each row must
    pick its partner out of the other 2B - 2 rows (cross-entropy over cosine similarities). Scalar []."""
    z = torch.cat([a, b])
    sim = z @ z.T / temperature
    sim.fill_diagonal_(float("-inf"))
    n = a.shape[0]
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


@dataclass
class FeatureTraining:
    """A trained feature network and how it got there."""

    model: SpriteFeatureNet
    losses: list[float]
    steps: int
    seconds: float


def train_sprite_features(
    sets: Mapping[str, Tensor],
    steps: int = 2000,
    batch: int = 160,
    lr: float = 1e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> FeatureTraining:
    """Train a SpriteFeatureNet with NT-Xent on all `sets` (each [N_i, 3, 32, 32] in [-1, 1]).

    Every batch draws the same number of sprites from each set, so a set of 73 buildings weighs
    as much as 20,000 procedural characters and the features do not become "character or not".
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = SpriteFeatureNet()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    names = list(sets)
    per_set = max(1, batch // len(names))
    losses: list[float] = []
    start = time.process_time()
    for step in range(1, steps + 1):
        x = torch.cat([sets[k][torch.randint(len(sets[k]), (per_set,), generator=gen)] for k in names])
        loss = nt_xent(model.project(augment(x)), model.project(augment(x)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if log is not None and (step % max(1, steps // 10) == 0 or step == steps):
            log(f"step {step}/{steps}: NT-Xent {sum(losses[-50:]) / len(losses[-50:]):.3f}")
    model.eval().requires_grad_(False)
    return FeatureTraining(model, losses, steps, time.process_time() - start)


def save_sprite_features(
    run: FeatureTraining,
    data: Mapping[str, Any],
    path: str | Path = ASSET_PATH,
    extra_meta: Mapping[str, Any] | None = None,
) -> Path:
    """Write the network (fp16) with the standard metadata, its loss curve (every 10th step) and `extra_meta`."""
    return save_weights(
        path,
        {"features": run.model},
        kind=KIND,
        config=dict(run.model.config),
        steps=run.steps,
        train_seconds=run.seconds,
        data=data,
        half=True,
        meta={"losses": [round(v, 4) for v in run.losses[::10]], **dict(extra_meta or {})},
    )


def load_sprite_features(device: str | torch.device = "cpu", path: str | Path | None = None) -> SpriteFeatureNet:
    """The shipped feature network, frozen, float32, in eval mode; its metadata is `model.meta`."""
    path = Path(path) if path is not None else ASSET_PATH
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="sprite feature network")
    model = SpriteFeatureNet(**meta["config"])
    meta, _ = load_weights(path, {"features": model}, kind=KIND, make_script=MAKE_SCRIPT, device=device)
    model.meta = meta  # type: ignore[attr-defined]
    return model.requires_grad_(False)


@dataclass(frozen=True)
class GenericSpriteReport:
    """FD and KID in the generic feature space next to their real-vs-real floors, and precision /
    recall at k = 3, all at the same N."""

    n: int
    fd: float
    fd_floor: float
    kid: float
    kid_floor: float
    precision: float
    recall: float

    def metrics(self) -> dict[str, float]:
        return {
            "generic_fd": self.fd,
            "generic_fd_floor": self.fd_floor,
            "generic_kid": self.kid,
            "generic_kid_floor": self.kid_floor,
            "precision": self.precision,
            "recall": self.recall,
        }

    def __str__(self) -> str:
        return (
            f"generic FD {self.fd:.2f} (real vs real {self.fd_floor:.2f}), KID {self.kid:.3f} "
            f"(floor {self.kid_floor:.3f}), precision {self.precision:.3f}, recall {self.recall:.3f} (k = 3, N = {self.n})"
        )


@torch.no_grad()
def generic_sprite_report(
    real: Tensor, fake: Tensor, n: int | None = None, features: SpriteFeatureNet | None = None
) -> GenericSpriteReport:
    """Score generated sprites `fake` [M, 3, 32, 32] against `real` [R, 3, 32, 32] (both in [-1, 1]).

    FD / KID use real[:n] as reference, fake[:n] as generated and real[n:2n] for the floor, so
    R >= 2n; n defaults to min(R // 2, M). Precision / recall compare fake[:n] with real[:n].
    """
    features = features if features is not None else load_sprite_features()
    n = n if n is not None else min(real.shape[0] // 2, fake.shape[0])
    # features once: FD / KID read them through an identity, precision / recall reuse them
    rf, gf = (torch.cat([features(b) for b in x.split(500)]) for x in (real[: 2 * n], fake[:n]))
    rep = frechet_report(nn.Identity(), rf, gf, n=n, kid_subset_size=min(n, 1000))
    pr = precision_recall(rf[:n], gf, k=3)
    return GenericSpriteReport(n, rep.fd, rep.fd_floor, rep.kid, rep.kid_floor, pr.precision, pr.recall)
