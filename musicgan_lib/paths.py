"""Where a chapter writes its files: one rule, used by every layer.

`output_dir("06")` is `$MUSICGAN_OUT/06` (the course runner points MUSICGAN_OUT at its run
folder) or `./runs/06`, created on first use. It lives at the bottom of the library so the
audio player, the data caches and the recipes can all reach it without importing the report layer.
"""

from __future__ import annotations

import os
from pathlib import Path

OUTPUT_DIR_ENV = "MUSICGAN_OUT"


def output_dir(chapter: str) -> Path:
    """Folder for a chapter's files (GIFs, WAVs, caches): $MUSICGAN_OUT/<chapter> or ./runs/<chapter>."""
    root = Path(os.environ.get(OUTPUT_DIR_ENV) or "runs")
    folder = root / chapter
    folder.mkdir(parents=True, exist_ok=True)
    return folder
