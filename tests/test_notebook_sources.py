"""Every committed notebook is built from its jupytext source as it stands: same cells, same code.

`scripts/build_notebooks.py NN` turns notebooks/src/NN_*.py into notebooks/NN_*.ipynb and runs it.
Editing a source without rebuilding would ship a notebook (and nbval outputs) that the source no
longer describes; this test names the first cell that differs.
"""

import json
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))


def cells_of_source(path: Path) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells]


def cells_of_notebook(path: Path) -> list[tuple[str, str]]:
    return [(c["cell_type"], "".join(c["source"]).strip()) for c in json.loads(path.read_text())["cells"]]


def first_difference(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> str | None:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"cell {i} differs: source {x[1][:80]!r} vs notebook {y[1][:80]!r}"
    if len(a) != len(b):
        return f"the source has {len(a)} cells, the notebook {len(b)}"
    return None


def test_there_is_a_source_for_every_chapter():
    assert len(SOURCES) == 8


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_committed_notebook_matches_its_source(source):
    notebook = NOTEBOOKS / f"{source.stem}.ipynb"
    assert notebook.exists(), (
        f"{notebook.name} is missing: run `.venv/bin/python scripts/build_notebooks.py {source.stem[:2]}`"
    )
    why = first_difference(cells_of_source(source), cells_of_notebook(notebook))
    assert why is None, (
        f"{notebook.name} is not built from {source.name} as it stands ({why}): rebuild it with `.venv/bin/python scripts/build_notebooks.py {source.stem[:2]}`"
    )


def test_a_changed_source_is_caught(tmp_path):
    source = SOURCES[0]
    cells = cells_of_source(source)
    edited = [*cells[:-1], (cells[-1][0], cells[-1][1] + "\nprint('edited')")]
    assert "cell" in first_difference(edited, cells_of_notebook(NOTEBOOKS / f"{source.stem}.ipynb"))
    assert "cells" in first_difference(cells[:-1], cells)
