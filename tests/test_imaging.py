import io

import numpy as np
import pytest
import torch
from PIL import Image

from musicgan_lib.imaging import (
    image_grid,
    interpolate_latents,
    label_frame,
    png_bytes,
    read_gif,
    slerp,
    to_uint8,
    upscale,
    write_gif,
)


def test_to_uint8_maps_minus_one_to_zero_and_one_to_255_and_clamps():
    x = torch.tensor([-1.0, 0.0, 1.0, 3.0, -7.0]).reshape(1, 1, 1, 5).expand(1, 3, 1, 5)
    out = to_uint8(x)
    assert out.shape == (1, 1, 5, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 128, 255, 255, 0]
    grey = to_uint8(torch.zeros(2, 1, 4, 4))
    assert grey.shape == (2, 4, 4, 3)


def test_image_grid_layout_padding_and_scale():
    imgs = -torch.ones(5, 3, 4, 4)  # black tiles
    imgs[3] = 1.0  # one white tile
    grid = image_grid(imgs, nrow=3, padding=1, pad_value=128)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert (grid[0] == 128).all() and (grid[:, 0] == 128).all()  # border
    assert (grid[1:5, 1:5] == 0).all()  # tile 0 at row 0, col 0
    assert (grid[6:10, 1:5] == 255).all()  # tile 3 at row 1, col 0
    assert (grid[6:10, 11:15] == 128).all()  # the empty sixth cell stays padding
    assert image_grid(imgs, nrow=3, scale=3).shape == (33, 48, 3)
    assert image_grid(torch.zeros(9, 3, 2, 2), padding=0).shape == (6, 6, 3)  # square by default


def test_upscale_is_nearest_neighbour():
    a = np.arange(4, dtype=np.uint8).reshape(2, 2, 1)
    b = upscale(a, 2)
    assert b.shape == (4, 4, 1) and b[:2, :2].ravel().tolist() == [0] * 4 and b[2:, 2:].ravel().tolist() == [3] * 4
    with pytest.raises(ValueError):
        upscale(a, 0)


def test_gif_is_written_and_read_back_by_imageio(tmp_path):
    colours = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [np.full((8, 10, 3), c, dtype=np.uint8) for c in colours]
    frames[2][2:4, 3:6] = (255, 255, 255)
    path = write_gif(frames, tmp_path / "sub" / "progress.gif", fps=5)
    assert path.exists() and path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    back = read_gif(path)
    assert back.shape == (4, 8, 10, 3)
    for got, want in zip(back, frames):  # few colours: the GIF palette keeps them exactly
        assert np.array_equal(got, want)
    with Image.open(path) as im:  # the last frame is held longer
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info["duration"])
    assert durations[-1] > durations[0]


def test_gif_rejects_mismatched_or_missing_frames(tmp_path):
    with pytest.raises(ValueError, match="same shape"):
        write_gif([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "x.gif")
    with pytest.raises(ValueError, match="at least one"):
        write_gif([], tmp_path / "x.gif")


def test_label_frame_and_png_bytes():
    img = np.zeros((20, 40, 3), dtype=np.uint8)
    out = label_frame(img, "step 10", height=12)
    assert out.shape == (32, 40, 3)
    assert (out[:20] == 0).all() and (out[20:] < 255).any()  # some text pixels were drawn
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(out))))
    assert np.array_equal(decoded, out)


def test_slerp_hits_endpoints_and_keeps_the_norm():
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(64, generator=g), torch.randn(64, generator=g)
    path = interpolate_latents(z0, z1, steps=7)
    assert path.shape == (7, 64)
    assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
    a = torch.tensor([1.0, 0.0])
    b = torch.tensor([0.0, 1.0])
    mid = slerp(a, b, 0.5)
    assert mid.norm().item() == pytest.approx(1.0, abs=1e-6)  # a straight line would give 0.707
    lin = interpolate_latents(a, b, steps=3, mode="linear")
    assert lin[1].norm().item() == pytest.approx(2**-0.5, abs=1e-6)
    same = interpolate_latents(a, a, steps=3)  # parallel endpoints do not divide by zero
    assert torch.isfinite(same).all() and torch.allclose(same, a.expand(3, 2))
    with pytest.raises(ValueError):
        interpolate_latents(a, b, steps=1)


def test_show_grid_never_shrinks_a_grid_below_its_own_pixels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from musicgan_lib.imaging import show_grid

    grid = np.zeros((133, 397, 3), np.uint8)

    def saved_size(**kw):
        buf = io.BytesIO()
        with plt.rc_context({"figure.dpi": 100, "savefig.dpi": "figure"}):
            show_grid(grid, **kw).savefig(buf, format="png")
        return Image.open(buf).size

    assert saved_size() == (397, 133)  # one screen pixel per grid pixel
    assert saved_size(zoom=2) == (794, 266)
    w, h = saved_size(title="real sprites")
    assert w == 397 and h > 133  # the title adds room; the image keeps its size
    assert saved_size(width=9) == (900, 301)  # widened to 9 in, aspect kept


def test_compress_png_keeps_the_picture_and_its_size():
    from musicgan_lib.imaging import compress_png

    rng = np.random.default_rng(0)
    palette = rng.integers(0, 256, (12, 3), dtype=np.uint8)
    picture = palette[rng.integers(0, 12, (150, 400))]  # a plot-like image: few distinct colours
    buf = io.BytesIO()
    Image.fromarray(picture).save(buf, format="PNG", compress_level=1)
    smaller = compress_png(buf.getvalue())
    assert len(smaller) < buf.tell()
    back = np.asarray(Image.open(io.BytesIO(smaller)).convert("RGB"))
    assert back.shape == picture.shape and np.array_equal(back, picture)  # 12 colours survive exactly
    assert compress_png(smaller) == smaller  # nothing to gain: the input comes back


def test_a_gif_of_one_frame_is_written_too(tmp_path):
    from musicgan_lib.imaging import read_gif, write_gif

    frame = np.full((8, 8, 3), 200, dtype=np.uint8)
    write_gif([frame], tmp_path / "one.gif")
    assert read_gif(tmp_path / "one.gif").shape == (1, 8, 8, 3)
