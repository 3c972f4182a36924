"""Real pixel-art sets that a Debian package installs: freeciv-data's flags, units and buildings.

Chapter 2's procedural sprites are a teaching toy; these are real game art (GPL-2+, from the
`freeciv-data` package, which `scripts/install-system-deps.sh` installs). They serve two jobs:

* training the generic sprite feature network (`metrics.sprite_features`) on many kinds of
  sprites, so its FD / KID / precision / recall mean something for any sprite set;
* real sets to try the small-data recipe on (`musicgan train sprites /usr/share/games/freeciv/...`).

Every set comes through `data.sprites.load_sprite_set` (fit to 32 x 32 on the sprite background,
larger art shrunk by an integer factor, duplicates dropped), as a float tensor [N, 3, 32, 32]
in [-1, 1]. Nothing is downloaded: a missing package is an error that says what to install.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from .sprites import load_sprite_set

FREECIV = Path(os.environ.get("MUSICGAN_FREECIV", "/usr/share/games/freeciv"))
LICENSE = "freeciv-data (Debian package): GPL-2+, the Freeciv project's artists"


def _missing() -> FileNotFoundError:
    return FileNotFoundError(
        f"no freeciv art at {FREECIV}: install it with `sudo apt-get install freeciv-data` "
        "(or run scripts/install-system-deps.sh), or point MUSICGAN_FREECIV at its folder"
    )


def _files_as_set(files: list[Path]) -> Tensor:
    """The given PNGs as one set [N, 3, 32, 32] (cross-file duplicates dropped), via a folder of links."""
    with tempfile.TemporaryDirectory() as tmp:
        for i, f in enumerate(sorted(files)):
            os.symlink(f, Path(tmp) / f"{i:05d}_{f.name}")
        images, _ = load_sprite_set(tmp)
    return images


def flags() -> Tensor:
    """National flags, 29 x 20 px each, about 570: [N, 3, 32, 32]."""
    files = [p for p in (FREECIV / "flags").glob("*.png") if "-large" not in p.name and "-shield" not in p.name]
    return _files_as_set(files)


def shields() -> Tensor:
    """The flags' shield versions, 19 x 19 px: [N, 3, 32, 32]."""
    return _files_as_set(list((FREECIV / "flags").glob("*-shield-large.png")))


def buildings() -> Tensor:
    """Improvements and wonders, 64 x 48 px shrunk by 2: [N, 3, 32, 32]."""
    return _files_as_set([*(FREECIV / "buildings").glob("*.png"), *(FREECIV / "wonders").glob("*.png")])


def units() -> Tensor:
    """Units of two tilesets: trident's 30 x 30 sheet and amplio2's 64 x 48 sheets (1-px border): [N, 3, 32, 32]."""
    trident, _ = load_sprite_set(FREECIV / "trident" / "units.png", tile=30)
    amplio, _ = load_sprite_set(FREECIV / "amplio2" / "units.png", tile=(64, 48), spacing=1, margin=1)
    return torch.cat([trident, amplio])


def units_and_buildings() -> Tensor:
    """The small real set chapter 2 shows memorising on: the 112 units, then the 73 buildings, [185, 3, 32, 32]."""
    return torch.cat([units(), buildings()])


SETS: dict[str, Callable[[], Tensor]] = {"flags": flags, "shields": shields, "buildings": buildings, "units": units}


def freeciv_sets(names: tuple[str, ...] = tuple(SETS)) -> dict[str, Tensor]:
    """The named freeciv sets, each [N, 3, 32, 32] in [-1, 1]; FileNotFoundError (what to install) without the package."""
    if not (FREECIV / "flags").is_dir():
        raise _missing()
    unknown = sorted(set(names) - set(SETS))
    if unknown:
        raise ValueError(f"unknown freeciv set(s) {unknown}; choose from {sorted(SETS)}")
    return {name: SETS[name]() for name in names}


def freeciv_installed() -> bool:
    return (FREECIV / "flags").is_dir()
