"""Mode coverage on toy mixtures, by the rule VEEGAN and PacGAN report, and its summary over seeds.

A sample is high quality when it lies within 3 standard deviations of its nearest mode;
a mode is covered when at least one high-quality sample is nearest to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..data.toy2d import GaussianMixture2D


@dataclass(frozen=True)
class ModeReport:
    """`counts[k]`: high-quality samples nearest mode k; `nearest_share[k]`: the share of *all*
    samples nearest mode k, good or not (where a blurry or collapsed generator puts its mass)."""

    modes_covered: int
    n_modes: int
    high_quality: float
    counts: tuple[int, ...]
    nearest_share: tuple[float, ...] = ()

    def __str__(self) -> str:
        return f"{self.modes_covered}/{self.n_modes} modes, {100 * self.high_quality:.1f}% high-quality samples"


def mode_report(samples: Tensor, mixture: GaussianMixture2D, n_std: float = 3.0) -> ModeReport:
    """Count covered modes and the high-quality fraction of `samples` ([N, 2])."""
    if samples.dim() != 2 or samples.shape[1] != 2:
        raise ValueError(f"samples must have shape [N, 2], got {tuple(samples.shape)}")
    if len(samples) == 0:
        raise ValueError("no samples to evaluate")
    dist = torch.cdist(samples.float(), mixture.modes.float())
    nearest_dist, nearest = dist.min(dim=1)
    good = nearest_dist <= n_std * mixture.std
    counts = torch.bincount(nearest[good], minlength=len(mixture.modes))
    share = torch.bincount(nearest, minlength=len(mixture.modes)) / len(samples)
    return ModeReport(
        modes_covered=int((counts > 0).sum()),
        n_modes=len(mixture.modes),
        high_quality=float(good.float().mean()),
        counts=tuple(int(c) for c in counts),
        nearest_share=tuple(float(x) for x in share),
    )


# ---------------------------------------------------------------- over seeds and methods


@dataclass(frozen=True)
class MethodSummary:
    """Mean (and range) over seeds of one method on one mixture."""

    mixture: str
    method: str
    modes_mean: float
    modes_min: int
    modes_max: int
    high_quality_mean: float
    n_modes: int
    seeds: int


def summarise(runs) -> list[MethodSummary]:
    """Group runs (anything with `.mixture`, `.method` and a `.report`: a ModeReport) by (mixture,
    method) and average over seeds."""
    groups: dict[tuple[str, str], list] = {}
    for run in runs:
        groups.setdefault((run.mixture, run.method), []).append(run)
    out = []
    for (mixture, method), rs in groups.items():
        modes = [r.report.modes_covered for r in rs]
        out.append(
            MethodSummary(
                mixture,
                method,
                sum(modes) / len(modes),
                min(modes),
                max(modes),
                sum(r.report.high_quality for r in rs) / len(rs),
                rs[0].report.n_modes,
                len(rs),
            )
        )
    return out


def balance_score(summary: MethodSummary) -> float:
    """Harmonic mean of mode coverage (a recall: share of modes found) and high-quality share
    (a precision: share of samples on a mode). Covering every mode with blurry samples, or
    hitting a few modes precisely, both score low."""
    recall, precision = summary.modes_mean / summary.n_modes, summary.high_quality_mean
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def best_method(summaries: list[MethodSummary], mixture: str) -> MethodSummary:
    """The method with the best balance of coverage and quality (see `balance_score`)."""
    candidates = [s for s in summaries if s.mixture == mixture]
    return max(candidates, key=lambda s: (balance_score(s), s.modes_mean))


def results_table(summaries: list[MethodSummary]) -> str:
    """A plain-text table: one row per method, one column group per mixture ("not trained" where a
    method was not run on that mixture)."""
    mixtures = sorted({s.mixture for s in summaries}, key=lambda m: (m != "ring", m))
    methods = list(dict.fromkeys(s.method for s in summaries))
    by = {(s.mixture, s.method): s for s in summaries}
    header = f"{'method':16s}" + "".join(f"| {m + ' modes':>16s} {m + ' HQ':>9s} {'score':>6s} " for m in mixtures)
    lines = [header, "-" * len(header)]
    for method in methods:
        row = f"{method:16s}"
        for m in mixtures:
            s = by.get((m, method))
            if s is None:
                row += f"| {'not trained':>16s} {'':>9s} {'':>6s} "
                continue
            row += (
                f"| {s.modes_mean:6.2f}/{s.n_modes:<2d} ({s.modes_min}-{s.modes_max}) "
                f"{100 * s.high_quality_mean:8.1f}% {balance_score(s):6.3f} "
            )
        lines.append(row)
    return "\n".join(lines)
