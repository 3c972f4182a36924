"""Chapter 8's page and library agree: the notebook's `anchor_lines` is the generator's `anchor_coordinates`."""

from pathlib import Path

import jupytext
import torch

from musicgan_lib.models.song_gan import anchor_coordinates

SOURCE = Path(__file__).resolve().parents[1] / "notebooks" / "src" / "08_songs.py"


def page_definition(name: str):
    """Run the one notebook cell that defines `name` and return the definition."""
    cells = [c.source for c in jupytext.read(SOURCE).cells if c.cell_type == "code" and f"def {name}(" in c.source]
    assert len(cells) == 1, f"expected one cell defining {name}, found {len(cells)}"
    namespace = {"torch": torch}
    exec(compile(cells[0], str(SOURCE), "exec"), namespace)
    return namespace[name]


def test_anchor_lines_on_the_page_equal_the_library():
    anchor_lines = page_definition("anchor_lines")
    anchors = torch.randn(1, 7, 5, generator=torch.Generator().manual_seed(0))
    for gap in (1, 4, 25):
        assert torch.allclose(anchor_lines(anchors[0], gap), anchor_coordinates(anchors, gap)[0].T, atol=1e-5)
    mid = anchor_lines(anchors[0], 4)[2]  # halfway from anchor 0 to anchor 1
    assert torch.allclose(mid, (anchors[0, 0] + anchors[0, 1]) / 2)
