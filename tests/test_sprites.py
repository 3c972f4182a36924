"""Procedural sprites (shape, determinism, attributes really visible) and the real-sprite loader's edge cases."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from musicgan_lib.data.sprites import (
    ATTRIBUTE_NAMES,
    N_COMBINATIONS,
    SPRITE_ATTRIBUTES,
    SPRITE_BACKGROUND,
    SpriteBatch,
    attribute_distribution,
    expected_coverage,
    load_sprite_set,
    load_sprites,
    make_sprites,
    render_sprites,
    sprite_sampler,
    tensor_sampler,
)

BG = torch.tensor(SPRITE_BACKGROUND, dtype=torch.float32) / 127.5 - 1.0


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[3, H, W] in [-1, 1] -> [H, W, 3] uint8."""
    return ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


# ---------------------------------------------------------------- procedural sprites
def test_shapes_dtypes_range():
    batch = make_sprites(257, seed=3)
    assert isinstance(batch, SpriteBatch)
    images, labels = batch
    assert images.shape == (257, 3, 32, 32) and images.dtype == torch.float32
    assert labels.shape == (257, len(ATTRIBUTE_NAMES)) and labels.dtype == torch.int64
    assert images.min() >= -1.0 and images.max() <= 1.0
    for j, values in enumerate(SPRITE_ATTRIBUTES.values()):
        assert labels[:, j].min() >= 0 and labels[:, j].max() < len(values)
    assert make_sprites(0, 0).images.shape == (0, 3, 32, 32)


def test_deterministic_per_seed():
    a, b, c = make_sprites(64, 7), make_sprites(64, 7), make_sprites(64, 8)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    # a generator seeded the same way gives the same stream
    g = make_sprites(64, torch.Generator().manual_seed(7))
    assert torch.equal(a.images, g.images)


def test_enough_attributes_and_combinations():
    assert len(SPRITE_ATTRIBUTES) >= 4
    assert N_COMBINATIONS == math.prod(len(v) for v in SPRITE_ATTRIBUTES.values()) >= 200
    assert all(2 <= len(v) <= 6 for v in SPRITE_ATTRIBUTES.values())


def test_true_distribution_is_uniform_and_matches_samples():
    dist = attribute_distribution()
    assert list(dist) == list(ATTRIBUTE_NAMES)
    labels = make_sprites(20_000, 11).labels
    for j, (k, p) in enumerate(dist.items()):
        assert torch.allclose(p.sum(), torch.tensor(1.0, dtype=torch.float64))
        emp = torch.bincount(labels[:, j], minlength=len(p)).double() / len(labels)
        assert (emp - p).abs().max() < 0.02, k
    # every combination occurs: 20k uniform samples over 480 combinations miss none (p ~ 1e-16)
    combo = torch.zeros(len(labels), dtype=torch.long)
    for j, v in enumerate(SPRITE_ATTRIBUTES.values()):
        combo = combo * len(v) + labels[:, j]
    assert combo.unique().numel() == N_COMBINATIONS


def test_expected_coverage():
    assert expected_coverage(0) == 0.0
    assert 0.98 < expected_coverage(2000) < 0.99
    assert expected_coverage(10**6) == pytest.approx(1.0)


def test_each_attribute_value_changes_the_picture_clearly():
    base = torch.zeros(1, len(ATTRIBUTE_NAMES), dtype=torch.long)
    for j, values in enumerate(SPRITE_ATTRIBUTES.values()):
        imgs = []
        for v in range(len(values)):
            lab = base.clone()
            lab[0, j] = v
            imgs.append(render_sprites(lab, seed=5)[0])  # same seed: same pose and offset
        for a in range(len(values)):
            for b in range(a + 1, len(values)):
                diff = (imgs[a] - imgs[b]).abs().amax(0)
                changed = diff > 1e-6
                assert changed.sum() >= 6, (ATTRIBUTE_NAMES[j], a, b)
                # well separated colours: the changed pixels differ a lot on average (>= ~38/255)
                assert diff[changed].mean() > 0.3, (ATTRIBUTE_NAMES[j], a, b)


def test_sprites_look_like_pixel_art():
    images = make_sprites(32, 2).images
    outline = torch.tensor((34, 28, 42)) / 127.5 - 1.0
    for img in images:
        colours = torch.unique(img.reshape(3, -1).T, dim=0)
        assert 10 <= len(colours) <= 19  # a small palette with shading tones, not flat blocks
        assert torch.allclose(img[:, 0, 0], BG)  # background corners
        is_outline = (img - outline[:, None, None]).abs().amax(0) < 1e-6
        assert is_outline.sum() > 40  # a dark outline around the character
        occupied = (img - BG[:, None, None]).abs().amax(0) > 1e-6
        rows = occupied.any(1).nonzero()
        assert rows.max() - rows.min() >= 22  # a full-height character, not a blob


def test_render_sprites_rejects_bad_labels():
    with pytest.raises(ValueError, match="shape"):
        render_sprites(torch.zeros(3, 2, dtype=torch.long))
    bad = torch.zeros(1, len(ATTRIBUTE_NAMES), dtype=torch.long)
    bad[0, 0] = 99
    with pytest.raises(ValueError, match="hair_colour"):
        render_sprites(bad)
    with pytest.raises(ValueError, match="non-negative"):
        make_sprites(-1)
    with pytest.raises(ValueError, match="seed"):
        make_sprites(4, seed=-3)


def test_generation_is_cheap():
    """Sanity only (timings on a shared CPU are noisy): 20k sprites render without trouble."""
    images = make_sprites(20_000, 0).images
    assert images.shape[0] == 20_000 and torch.isfinite(images).all()


def test_tensor_sampler_is_seeded_and_draws_rows():
    data = torch.arange(50.0).reshape(50, 1) * torch.ones(50, 4)
    sample = tensor_sampler(data)
    a = sample(16, torch.Generator().manual_seed(1))
    b = sample(16, torch.Generator().manual_seed(1))
    assert a.shape == (16, 4) and torch.equal(a, b)
    assert set(a[:, 0].tolist()) <= set(range(50))
    assert not torch.equal(a, sample(16, torch.Generator().manual_seed(2)))
    with pytest.raises(ValueError):
        sample(0, torch.Generator())
    with pytest.raises(ValueError):
        tensor_sampler(torch.zeros(0, 3))


def test_sprite_sampler_fresh_batches():
    sample = sprite_sampler()
    g = torch.Generator().manual_seed(0)
    x1, x2 = sample(8, g), sample(8, g)
    assert x1.shape == (8, 3, 32, 32) and not torch.equal(x1, x2)
    assert torch.equal(x1, sample(8, torch.Generator().manual_seed(0)))


# ---------------------------------------------------------------- loader
def _rgba_sprite(seed: int = 0, size: int = 16) -> np.ndarray:
    """A small RGBA sprite: transparent border, coloured interior with some structure."""
    rng = np.random.default_rng(seed)
    arr = np.zeros((size, size, 4), dtype=np.uint8)
    arr[3:-3, 4:-4, :3] = rng.integers(0, 256, (size - 6, size - 8, 3))
    arr[3:-3, 4:-4, 3] = 255
    return arr


def _bg01() -> np.ndarray:
    return np.asarray(SPRITE_BACKGROUND, dtype=np.float32) / 255.0


def test_load_folder_composites_transparency_and_centres(tmp_path):
    for i in range(3):
        Image.fromarray(_rgba_sprite(i), "RGBA").save(tmp_path / f"s{i}.png")
    (tmp_path / "readme.txt").write_text("not a sprite, ignored")
    x = load_sprites(tmp_path, size=32)
    assert x.shape == (3, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    # 16x16 centred on 32x32: the sprite's interior starts at 8 + 3 rows, 8 + 4 columns
    src = _rgba_sprite(0)
    got = to_uint8(x[0])
    assert np.array_equal(got[8 + 3 : 8 + 13, 8 + 4 : 8 + 12], src[3:-3, 4:-4, :3])
    assert np.array_equal(got[0, 0], np.array(SPRITE_BACKGROUND, dtype=np.uint8))
    assert np.array_equal(got[8, 8], np.array(SPRITE_BACKGROUND, dtype=np.uint8))  # transparent -> background


def test_load_custom_background_and_partial_alpha(tmp_path):
    arr = np.zeros((4, 4, 4), dtype=np.uint8)
    arr[..., 0] = 255  # red ...
    arr[..., 3] = 128  # ... half transparent
    arr[0, 0, 3] = 0
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    x = load_sprites(tmp_path / "a.png", size=4, background=(0, 0, 255))
    px = to_uint8(x[0])
    assert np.array_equal(px[0, 0], [0, 0, 255])
    assert np.allclose(px[1, 1], [128, 0, 127], atol=1)


def test_load_sheet_cuts_tiles_and_skips_empty_ones(tmp_path):
    sheet = np.zeros((32, 64, 4), dtype=np.uint8)  # 2 rows x 4 columns of 16x16 tiles
    for r, c, seed in [(0, 0, 1), (0, 2, 2), (1, 1, 3), (1, 3, 4)]:
        sheet[r * 16 : (r + 1) * 16, c * 16 : (c + 1) * 16] = _rgba_sprite(seed)
    sheet[16:32, 0:16] = (10, 200, 30, 255)  # a flat-colour cell: empty
    Image.fromarray(sheet, "RGBA").save(tmp_path / "sheet.png")
    x = load_sprites(tmp_path / "sheet.png", size=16, tile=16)
    assert x.shape == (4, 3, 16, 16)
    expect = _rgba_sprite(2)  # row-major order: the second kept tile is (0, 2)
    assert np.array_equal(to_uint8(x[1])[3:-3, 4:-4], expect[3:-3, 4:-4, :3])
    # (width, height) tiles work too
    assert load_sprites(tmp_path / "sheet.png", size=32, tile=(16, 32)).shape[0] == 4


def test_load_bigger_sprites_are_cropped_then_shrunk_exactly(tmp_path):
    sprite = make_sprites(1, 4).images[0]
    small = to_uint8(sprite)
    big = np.kron(small, np.ones((4, 4, 1), dtype=np.uint8))  # pixel art stored 4x upscaled
    Image.fromarray(big).save(tmp_path / "big.png")
    x = load_sprites(tmp_path / "big.png", size=32, background=SPRITE_BACKGROUND)
    got = to_uint8(x[0])

    def content(a: np.ndarray) -> np.ndarray:
        m = np.any(a != np.array(SPRITE_BACKGROUND, dtype=np.uint8), axis=-1)
        ys, xs = np.nonzero(m)
        return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]

    assert np.array_equal(content(got), content(small))  # pixel-exact after the 4x shrink
    # a 40x40 image whose content fits in 32x32 is cropped, not shrunk
    canvas = np.zeros((40, 40, 4), dtype=np.uint8)
    canvas[5:25, 12:30] = _rgba_sprite(7, size=20)[:, 1:19]
    Image.fromarray(canvas, "RGBA").save(tmp_path / "margin.png")
    y = load_sprites(tmp_path / "margin.png", size=32)
    assert y.shape == (1, 3, 32, 32)
    assert np.array_equal(content(to_uint8(y[0])), content(to_uint8(load_sprites(tmp_path / "margin.png", size=64)[0])))


def test_load_palette_png_with_transparency(tmp_path):
    rgb = np.zeros((8, 8, 3), dtype=np.uint8)
    rgb[2:6, 2:6] = (200, 40, 40)
    rgb[3, 3] = (40, 40, 200)
    img = Image.fromarray(rgb).quantize(colors=4)
    pal_index_black = img.getpixel((0, 0))
    img.info["transparency"] = pal_index_black
    img.save(tmp_path / "pal.png", transparency=pal_index_black)
    assert Image.open(tmp_path / "pal.png").mode == "P"
    x = to_uint8(load_sprites(tmp_path / "pal.png", size=8)[0])
    assert np.array_equal(x[0, 0], np.array(SPRITE_BACKGROUND, dtype=np.uint8))  # transparent index
    assert np.array_equal(x[2, 2], [200, 40, 40]) and np.array_equal(x[3, 3], [40, 40, 200])


def test_load_16bit_greyscale_png(tmp_path):
    arr = np.zeros((8, 8), dtype=np.uint16)
    arr[2:6, 2:6] = 65535
    arr[3, 3] = 128 * 257
    Image.fromarray(arr).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    x = load_sprites(tmp_path / "g16.png", size=8)[0]
    px = to_uint8(x)
    assert np.array_equal(px[2, 2], [255, 255, 255])  # not clipped junk
    assert np.array_equal(px[3, 3], [128, 128, 128])
    assert np.array_equal(px[0, 0], [0, 0, 0])


def _write_png16_rgba(path, arr16: np.ndarray) -> None:
    """Minimal 16-bit RGBA PNG writer (Pillow cannot write 16 bits per channel in colour)."""
    h, w, _ = arr16.shape
    raw = b"".join(b"\x00" + arr16[y].astype(">u2").tobytes() for y in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )


def test_load_16bit_rgba_png(tmp_path):
    arr = np.zeros((8, 8, 4), dtype=np.uint16)
    arr[2:6, 2:6] = (200 * 257, 100 * 257, 50 * 257, 65535)
    arr[3, 3] = (10 * 257, 250 * 257, 10 * 257, 65535)
    _write_png16_rgba(tmp_path / "c16.png", arr)
    x = to_uint8(load_sprites(tmp_path / "c16.png", size=8, background=(0, 0, 0))[0])
    assert np.array_equal(x[2, 2], [200, 100, 50])
    assert np.array_equal(x[3, 3], [10, 250, 10])
    assert np.array_equal(x[0, 0], [0, 0, 0])


def test_load_greyscale_and_la_png(tmp_path):
    la = np.zeros((6, 6, 2), dtype=np.uint8)
    la[1:5, 1:5] = (90, 255)
    la[2, 2] = (200, 255)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    x = to_uint8(load_sprites(tmp_path / "la.png", size=6, background=(0, 0, 255))[0])
    assert np.array_equal(x[0, 0], [0, 0, 255]) and np.array_equal(x[1, 1], [90, 90, 90])


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sprites(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no .png files"):
        load_sprites(empty)
    (empty / "notes.txt").write_text("hello")
    with pytest.raises(FileNotFoundError, match="no .png files"):
        load_sprites(empty)

    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image")
    with pytest.raises(ValueError, match="fake.png.*not an image"):
        load_sprites(fake)

    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="trunc.png.*truncated"):
        load_sprites(trunc)

    sheet = tmp_path / "sheet.png"
    Image.fromarray(np.full((30, 50, 3), 100, dtype=np.uint8)).save(sheet)
    with pytest.raises(ValueError, match=r"sheet.png is 50x30 pixels: no 64x64 tile fits with margin 0"):
        load_sprites(sheet, tile=64)

    blank = tmp_path / "blank"
    blank.mkdir()
    Image.fromarray(np.zeros((16, 16, 4), dtype=np.uint8), "RGBA").save(blank / "t.png")
    Image.fromarray(np.full((16, 16, 3), 77, dtype=np.uint8)).save(blank / "u.png")
    with pytest.raises(ValueError, match="no non-empty sprites"):
        load_sprites(blank)

    with pytest.raises(ValueError, match="size"):
        load_sprites(good, size=0)
    with pytest.raises(ValueError, match="background"):
        load_sprites(good, background=(1, 2))
    with pytest.raises(ValueError, match="background"):
        load_sprites(good, background=(0, 0, 300))
    with pytest.raises(ValueError, match="tile"):
        load_sprites(good, tile=0)
    with pytest.raises(ValueError, match="tile"):
        load_sprites(good, tile="big")


def _sheet_with_gaps(tiles: list[np.ndarray], cols: int, tile: int, spacing: int, margin: int) -> np.ndarray:
    rows = -(-len(tiles) // cols)
    w = 2 * margin + cols * tile + (cols - 1) * spacing
    h = 2 * margin + rows * tile + (rows - 1) * spacing
    sheet = np.zeros((h, w, 4), dtype=np.uint8)
    sheet[..., :3] = 255  # opaque white gutters: not part of any tile
    sheet[..., 3] = 255
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        y, x = margin + r * (tile + spacing), margin + c * (tile + spacing)
        sheet[y : y + tile, x : x + tile] = t
    return sheet


def test_load_sheet_with_spacing_and_margin_cuts_exact_tiles(tmp_path):
    tiles = [_rgba_sprite(seed) for seed in range(1, 6)]
    Image.fromarray(_sheet_with_gaps(tiles, cols=3, tile=16, spacing=2, margin=3), "RGBA").save(tmp_path / "s.png")
    x, report = load_sprite_set(tmp_path / "s.png", size=16, tile=16, spacing=2, margin=3)
    assert x.shape == (5, 3, 16, 16) and report.kept == 5 and report.tiles == 6 and report.empty == 1
    for got, want in zip(x, tiles):  # the gutters never leak into a tile
        assert np.array_equal(to_uint8(got)[3:-3, 4:-4], want[3:-3, 4:-4, :3])
    cut_wrong, _ = load_sprite_set(tmp_path / "s.png", size=16, tile=16)  # without spacing/margin
    assert not np.array_equal(to_uint8(cut_wrong[0]), to_uint8(x[0]))


def test_a_sheet_with_a_remainder_is_cut_with_a_warning_that_says_how_much(tmp_path):
    sheet = np.zeros((20, 40, 4), dtype=np.uint8)  # 2 x 1 whole 16 px tiles, 8 px and 4 px left over
    sheet[:16, :16], sheet[:16, 16:32] = _rgba_sprite(1), _rgba_sprite(2)
    Image.fromarray(sheet, "RGBA").save(tmp_path / "odd.png")
    with pytest.warns(UserWarning, match=r"odd.png is 40x20 pixels.*skipped the last 8 px on the right and 4 px"):
        x, report = load_sprite_set(tmp_path / "odd.png", size=16, tile=16)
    assert x.shape[0] == 2 and len(report.cropped_remainders) == 1


def test_duplicates_are_dropped_and_counted_and_the_report_is_printed(tmp_path, capsys):
    tiles = [_rgba_sprite(1), _rgba_sprite(2), _rgba_sprite(1), _rgba_sprite(1)]
    Image.fromarray(_sheet_with_gaps(tiles, cols=4, tile=16, spacing=0, margin=0), "RGBA").save(tmp_path / "d.png")
    x = load_sprites(tmp_path / "d.png", size=16, tile=16)
    assert x.shape[0] == 2
    assert (
        capsys.readouterr().out == "load_sprites(d.png): kept 2 sprites of 4 tiles in 1 file(s); skipped 2 duplicates\n"
    )
    _, report = load_sprite_set(tmp_path / "d.png", size=16, tile=16, keep_duplicates=True)
    assert report.kept == 4 and report.duplicates == 0
    big, report = load_sprite_set(tmp_path / "d.png", size=8, tile=16)  # tiles larger than the model
    assert big.shape[-1] == 8 and report.shrunk == report.tiles == 4


def test_sprites_or_builtin_splits_off_a_held_out_tenth_and_refuses_too_few(tmp_path, capsys):
    from musicgan_lib.data.sprites import BUILTIN_SPRITES, sprites_or_builtin

    train, held, what = sprites_or_builtin(seed=1)
    assert len(train) + len(held) == BUILTIN_SPRITES and len(held) == BUILTIN_SPRITES // 10
    assert "built-in stand-in" in what
    again, _, _ = sprites_or_builtin(seed=1)
    assert torch.equal(train, again)  # same seed, same split
    Image.fromarray(_sheet_with_gaps([_rgba_sprite(s) for s in range(1, 41)], 8, 16, 0, 0), "RGBA").save(
        tmp_path / "s.png"
    )
    with pytest.raises(
        ValueError, match="40 sprites are too few to train and to check for memorising; bring at least 96"
    ):
        sprites_or_builtin(tmp_path / "s.png", tile=16)
