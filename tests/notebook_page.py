"""Run a notebook page's teaching code in a test, so the page cannot drift from the library.

Every chapter shows its core idea as short code on the page (a training step, a block, the
penalty, the fade, the oscillator bank). The chapter's `test_notebook_NN_page.py` executes the one
cell that defines it, from the jupytext source, and compares its result with the library's.
"""

from __future__ import annotations

from pathlib import Path

import jupytext

SOURCES = Path(__file__).resolve().parents[1] / "notebooks" / "src"


def page_cell(chapter: str, marker: str) -> str:
    """The source of the one code cell of chapter `chapter` ("01".."08") that contains `marker`."""
    (path,) = SOURCES.glob(f"{chapter}_*.py")
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "code" and marker in c.source]
    assert len(cells) == 1, f"expected one cell of {path.name} containing {marker!r}, found {len(cells)}"
    return cells[0]


def page_definitions(chapter: str, marker: str, namespace: dict | None = None) -> dict:
    """Execute the cell containing `marker` (e.g. "def oscillator_bank(") in `namespace` (the
    imports the page made earlier) and return the namespace with what the cell defined."""
    (path,) = SOURCES.glob(f"{chapter}_*.py")
    namespace = dict(namespace or {})
    exec(compile(page_cell(chapter, marker), str(path), "exec"), namespace)
    return namespace


def broken_page_definitions(chapter: str, marker: str, old: str, new: str, namespace: dict | None = None) -> dict:
    """The cell containing `marker` with `old` swapped for `new` (a plausible mistake), executed: a
    page test uses it to show it can fail. The swap must apply, so the test follows the page."""
    source = page_cell(chapter, marker)
    assert old in source, f"the page no longer contains {old!r}: update this test"
    namespace = dict(namespace or {})
    exec(compile(source.replace(old, new), f"chapter {chapter} (mutated)", "exec"), namespace)
    return namespace
