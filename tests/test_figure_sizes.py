"""Every committed notebook's figures are big enough to read at 100 % zoom (a floor, not a goal)."""

import base64
import io
from pathlib import Path

import nbformat
import pytest
from PIL import Image

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MIN_SHORT_SIDE, MIN_AREA = 150, 80_000  # pixels


def small_images(path: Path) -> list[str]:
    """'cell N: W x H' for every PNG output under the floor."""
    found = []
    for i, cell in enumerate(nbformat.read(path, as_version=4).cells):
        for out in cell.get("outputs", []):
            data = out.get("data", {}).get("image/png")
            if data:
                w, h = Image.open(io.BytesIO(base64.b64decode(data))).size
                if min(w, h) < MIN_SHORT_SIDE or w * h < MIN_AREA:
                    found.append(f"cell {i}: {w} x {h}")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_figures_are_readable(path):
    small = small_images(path)
    assert not small, f"{path.name}: figures under {MIN_SHORT_SIDE} px / {MIN_AREA:,} px: {small}"


def test_the_floor_catches_a_thumbnail(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (400, 120)).save(buf, format="PNG")
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(buf.getvalue()).decode()})
    ]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "99_x.ipynb")
    assert small_images(tmp_path / "99_x.ipynb") == ["cell 0: 400 x 120"]
