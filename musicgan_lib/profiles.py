"""Run profiles: "quick" gives real results on a 2-core laptop, "full" is for GPUs.

Each chapter's recipe turns a profile name into its own sizes (steps, batch, widths), so a
notebook never sets them by hand.
"""

from __future__ import annotations

PROFILES = ("quick", "full")


def check_profile(profile: str) -> str:
    """Return the profile name, or raise a clear error naming the valid ones."""
    if profile not in PROFILES:
        raise ValueError(
            f"unknown PROFILE {profile!r}: use one of {', '.join(repr(p) for p in PROFILES)} "
            "('quick' for a laptop CPU, 'full' for a GPU)"
        )
    return profile
