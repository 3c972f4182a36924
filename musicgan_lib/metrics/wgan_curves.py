"""What chapter 3 measures along a run: the critic's distance estimate, FD at checkpoints, the
critic's gradient norm at interpolates, and whether estimate and FD go down together.

The WGAN paper's claim is that minus the critic's loss (without the penalty) estimates the
Wasserstein distance and so falls as the samples get better. These are the measurements that
test it: a causal running median of the estimate (`median_filter`, `critic_estimate`), FD and
coverage of a checkpoint's samples (`curve_evaluator`), the Lipschitz probe
(`interpolate_grad_norm`, `GradNormProbe`) and the rank correlation (`spearman`). A checkpoint's
numbers go into `train.CurvePoint`, the one record of every chapter's curves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import numpy as np
import torch
from torch import Tensor, nn

from ..data.sprites import make_sprites
from ..losses import gradient_penalty
from ..train import judged
from .attributes import attribute_report
from .frechet import frechet_distance
from .sprite_eval import reference_sprites, sprite_classifier

PROBE_SEED = 777  # the fixed real batch / latents of the gradient-norm probe


def median_filter(values: Sequence[float], window: int) -> np.ndarray:
    """Causal running median: entry i is the median of values[max(0, i-window+1) : i+1].

    The WGAN paper plots -critic loss through a median filter: the raw per-step value is
    noisy (one minibatch), the median of the last `window` steps is not, and a causal filter
    at step t uses only what was known at step t.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    v = np.asarray(values, dtype=np.float64)
    return np.array([np.median(v[max(0, i - window + 1) : i + 1]) for i in range(len(v))])


def critic_estimate(w_history: Sequence[float], window: int) -> float:
    """The critic's distance estimate now: median of -critic loss (no penalty) over the last `window` steps."""
    if len(w_history) == 0:
        raise ValueError("no critic values yet")
    return float(np.median(np.asarray(w_history[-window:], dtype=np.float64)))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (scipy.stats.spearmanr): do x and y go up and down together?"""
    from scipy.stats import spearmanr

    if len(x) != len(y) or len(x) < 3:
        raise ValueError(f"need two sequences of the same length >= 3, got {len(x)} and {len(y)}")
    return float(spearmanr(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).statistic)


def curve_evaluator(n: int, classifier=None) -> tuple[Callable[[Tensor], dict[str, float]], float]:
    """(score(samples) -> {fd, coverage, high_quality}, FD floor) at a fixed N for training curves.

    Same classifier features and FD code as chapter 2 (`frechet_distance` of `metrics.frechet`), on
    the first n held-out real sprites; the floor is real vs the next n. `score` reads sprites
    [>= n, 3, 32, 32] in [-1, 1].
    """
    clf = classifier if classifier is not None else sprite_classifier("cpu")
    fx = clf.feature_extractor()
    real = reference_sprites(n)
    floor = frechet_distance(fx, real[:n], real[n : 2 * n])

    def score(samples: Tensor) -> dict[str, float]:
        rep = attribute_report(clf, samples[:n])
        return {
            "fd": frechet_distance(fx, real[:n], samples[:n]),
            "coverage": rep.coverage,
            "high_quality": rep.high_quality,
        }

    return score, floor


def interpolate_grad_norm(
    critic: nn.Module, real: Tensor, fake: Tensor, seed: int = 0, labels: Tensor | None = None
) -> Tensor:
    """Per-sample ||grad D(x_hat)|| [N] at random interpolates between real and fake [N, 3, H, W]: the
    quantity the penalty pushes to 1 (`labels` [N, 5]: what a conditional critic is told about both)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, norms = gradient_penalty(judged(critic, labels), real, fake)
    critic.zero_grad(set_to_none=True)
    return norms.detach()


class GradNormProbe:
    """The critic's mean gradient norm at interpolates between a fixed real batch [n, 3, 32, 32] (seed
    `seed`) and the generator's samples of fixed latents (of the same characters, for a conditional pair)."""

    def __init__(self, generator: nn.Module, conditional: bool, n: int = 64, seed: int = PROBE_SEED) -> None:
        device = next(generator.parameters()).device
        probe = make_sprites(n, seed=seed)
        self.real = probe.images.to(device)
        z = torch.randn(n, generator.latent_dim, generator=torch.Generator().manual_seed(seed + 1)).to(device)
        self.labels = probe.labels.to(device) if conditional else None
        self.latents = generator.with_labels(z, self.labels) if self.labels is not None else z

    def __call__(self, generator: nn.Module, critic: nn.Module, step: int) -> float:
        """The mean norm now (interpolation draws seeded by `step`)."""
        with torch.no_grad():
            fake = generator(self.latents)
        return float(interpolate_grad_norm(critic, self.real, fake, seed=step, labels=self.labels).mean())


def critic_weights(critic: nn.Module) -> np.ndarray:
    """All conv weights of a critic, flattened (the numbers weight clipping acts on)."""
    ws = [m.weight.detach().float().flatten() for m in critic.modules() if isinstance(m, nn.Conv2d)]
    return torch.cat(ws).cpu().numpy()
