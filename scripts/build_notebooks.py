"""Build the committed notebooks from their jupytext sources and execute them in place.

    python scripts/build_notebooks.py            # every notebooks/src/NN_*.py
    python scripts/build_notebooks.py 01 05      # only these chapters
    python scripts/build_notebooks.py --compress-only 03   # re-encode a built notebook's figures, no run

Each notebooks/src/NN_name.py (jupytext percent format) becomes notebooks/NN_name.ipynb,
executed with the notebooks folder as working directory and the default (quick) profile,
so the committed book shows real outputs before anyone runs it. Figures are stored as palette
PNGs (`imaging.compress_png`): the files stay small, the figures keep their size.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import base64

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicgan_lib.course import kernel_manager_class  # noqa: E402
from musicgan_lib.imaging import compress_png  # noqa: E402

SRC = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"


def compress_figures(nb) -> int:
    """Re-encode every PNG output as a palette PNG, in place; returns the bytes saved."""
    saved = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                original = base64.b64decode(data["image/png"])
                smaller = compress_png(original)
                saved += len(original) - len(smaller)
                data["image/png"] = base64.b64encode(smaller).decode()
    return saved


def build(source: Path, timeout: int = 1800) -> Path:
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.pop("jupytext", None)
    target = OUT / f"{source.stem}.ipynb"
    os.environ["MUSICGAN_BATCH"] = "1"
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(OUT)}},
        kernel_manager_class=kernel_manager_class(),
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    saved = compress_figures(nb)
    nbformat.write(nb, target)
    print(
        f"built {target.relative_to(ROOT)} in {seconds:.1f} s (figures {saved / 1024:.0f} KB smaller as palette PNGs)"
    )
    return target


def main(argv: list[str]) -> int:
    compress_only = "--compress-only" in argv
    argv = [a for a in argv if a != "--compress-only"]
    sources = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if argv:
        sources = [s for s in sources if s.name[:2] in argv]
        if not sources:
            print(f"no notebook sources match {argv}; have {[s.name for s in SRC.glob('*.py')]}")
            return 2
    for source in sources:
        if compress_only:
            target = OUT / f"{source.stem}.ipynb"
            nb = nbformat.read(target, as_version=4)
            saved = compress_figures(nb)
            nbformat.write(nb, target)
            print(f"{target.relative_to(ROOT)}: figures {saved / 1024:.0f} KB smaller")
        else:
            build(source)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
