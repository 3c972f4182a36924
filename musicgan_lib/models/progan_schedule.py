"""When a progressive GAN grows: the phases of its run, and the fade weight alpha at every step.

A stable phase at the start resolution, then for each doubling a fade phase (alpha 0 -> 1) and a
stable phase, each a set number of *images* (as in the paper), compiled to training steps. The
resolution and alpha at any step are a pure function of the step, so a resumed run is on the
same schedule without storing anything but the step.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Phase:
    """One stretch of training at one resolution: "stable" (alpha = 1) or "fade" (alpha 0 -> 1)."""

    index: int
    resolution: int
    kind: str
    start_step: int
    steps: int
    batch_size: int
    start_images: int

    @property
    def end_step(self) -> int:
        return self.start_step + self.steps

    @property
    def images(self) -> int:
        return self.steps * self.batch_size


@dataclass(frozen=True)
class GrowthSchedule:
    """The phases of a progressive run, in steps; `at(step)` gives (phase, alpha).

    Lengths are given in images (as in the paper) and rounded up to whole steps at each
    resolution's batch size. After the last phase training stays at the final resolution.
    """

    phases: tuple[Phase, ...]

    @classmethod
    def build(
        cls,
        start_resolution: int = 4,
        max_resolution: int = 32,
        stable_images: int | Sequence[int] = 20000,
        fade_images: int | Sequence[int] = 20000,
        batch_size: int | dict[int, int] = 32,
        final_stable_images: int | None = None,
    ) -> "GrowthSchedule":
        """stable/fade images: one number for all resolutions or one per resolution (fades start at the 2nd)."""
        resolutions = []
        r = start_resolution
        while r <= max_resolution:
            resolutions.append(r)
            r *= 2
        if not resolutions or resolutions[-1] != max_resolution:
            raise ValueError(
                f"max_resolution {max_resolution} is not start_resolution {start_resolution} times a power of two"
            )

        def per_res(v, n, what):
            vals = [v] * n if isinstance(v, int) else list(v)
            if len(vals) != n:
                raise ValueError(f"{what}: need {n} values, got {len(vals)}")
            return vals

        stables = per_res(stable_images, len(resolutions), "stable_images")
        fades = per_res(fade_images, len(resolutions) - 1, "fade_images")
        if final_stable_images is not None:
            stables[-1] = final_stable_images
        phases: list[Phase] = []
        step = images = 0
        for i, res in enumerate(resolutions):
            b = batch_size[res] if isinstance(batch_size, dict) else batch_size
            kinds = [("fade", fades[i - 1])] if i > 0 else []
            kinds.append(("stable", stables[i]))
            for kind, n_img in kinds:
                steps = max(1, math.ceil(n_img / b))
                phases.append(Phase(len(phases), res, kind, step, steps, b, images))
                step += steps
                images += steps * b
        return cls(tuple(phases))

    @property
    def total_steps(self) -> int:
        return self.phases[-1].end_step

    @property
    def total_images(self) -> int:
        return self.phases[-1].start_images + self.phases[-1].images

    @property
    def final_resolution(self) -> int:
        return self.phases[-1].resolution

    @property
    def growth_steps(self) -> list[int]:
        """Steps at which the networks grow (start of each fade)."""
        return [p.start_step for p in self.phases if p.kind == "fade"]

    def phase_at(self, step: int) -> Phase:
        starts = [p.start_step for p in self.phases]
        return self.phases[max(0, bisect.bisect_right(starts, step) - 1)]

    def at(self, step: int) -> tuple[Phase, float]:
        """(phase, alpha) for the step about to run; alpha goes 0, 1/n, ..., (n-1)/n over a fade."""
        p = self.phase_at(step)
        if p.kind == "fade" and step < p.end_step:
            return p, (step - p.start_step) / p.steps
        return p, 1.0

    def images_at(self, step: int) -> int:
        p = self.phase_at(step)
        return p.start_images + (step - p.start_step) * p.batch_size

    def first_phase_at(self, resolution: int) -> Phase:
        """The first phase at `resolution` (its fade, or the start's stable phase)."""
        return next(p for p in self.phases if p.resolution == resolution)

    def describe(self) -> str:
        lines = [f"{'phase':>5s} {'res':>5s} {'kind':>6s} {'steps':>13s} {'images':>17s} {'batch':>5s}"]
        for p in self.phases:
            lines.append(
                f"{p.index:5d} {p.resolution:3d}px {p.kind:>6s} {p.start_step:6d}-{p.end_step:<6d} "
                f"{p.start_images:8d}-{p.start_images + p.images:<8d} {p.batch_size:5d}"
            )
        return "\n".join(lines)

    def to_meta(self) -> list[dict]:
        return [asdict(p) for p in self.phases]

    @classmethod
    def from_meta(cls, phases: Sequence[dict]) -> "GrowthSchedule":
        return cls(tuple(Phase(**p) for p in phases))
