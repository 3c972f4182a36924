"""Image helpers for the image chapters: grids, training-progress GIFs, latent interpolation.

Plain NumPy + Pillow + imageio (no torchvision): a grid is just a padded reshape, and a GIF
is a list of uint8 frames. Images come in as tensors [N, C, H, W] in [-1, 1] (what the
generators produce) and go out as uint8 arrays [H, W, 3] that matplotlib, Pillow and
imageio all understand. Pixel art is upscaled with nearest neighbour so pixels stay crisp.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .checks import require_int, require_number


def _check_uint8_image(name: str, image: object) -> np.ndarray:
    """`image` as a uint8 [H, W, 3 or 4] array; float or out-of-range pixels are refused, not wrapped or zeroed."""
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or 0 in arr.shape:
        raise ValueError(f"{name} must be a uint8 image [H, W, 3 or 4] (H, W > 0), got shape {arr.shape}")
    if arr.dtype != np.uint8 and not (np.issubdtype(arr.dtype, np.integer) and 0 <= arr.min() <= arr.max() <= 255):
        raise TypeError(
            f"{name} must hold uint8 pixels 0..255, got dtype {arr.dtype}; convert images in [-1, 1] with to_uint8"
        )
    return arr.astype(np.uint8, copy=False)


def to_uint8(images: Tensor | np.ndarray) -> np.ndarray:
    """[N, C, H, W] (or [C, H, W]) in [-1, 1] -> uint8 [N, H, W, 3] (grey images are repeated to RGB)."""
    try:
        x = torch.as_tensor(images).detach().float().cpu()
    except (TypeError, ValueError, RuntimeError) as exc:  # a string, a ragged list...
        kind = type(images).__name__
        raise TypeError(f"images must be a tensor or array [N, C, H, W] in [-1, 1], got {kind}") from exc
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3) or x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"expected images [N, 1 or 3, H, W] in [-1, 1], got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale of a uint8 [H, W, C] array by an integer factor (crisp pixel art)."""
    factor = require_int("factor", factor)
    if factor == 1:
        return image
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def image_grid(
    images: Tensor | np.ndarray,
    nrow: int | None = None,
    padding: int = 1,
    pad_value: int = 255,
    scale: int = 1,
) -> np.ndarray:
    """Tile images [N, C, H, W] in [-1, 1] into one uint8 [rows*H', nrow*W', 3] picture.

    `nrow` images per row (default: as square as possible); `padding` pixels of `pad_value`
    (0..255) between tiles and around the edge; `scale` upscales the whole grid (nearest neighbour).
    """
    padding, scale = require_int("padding", padding, 0), require_int("scale", scale)
    if require_int("pad_value", pad_value, 0) > 255:
        raise ValueError(f"pad_value must be a grey level 0..255, got {pad_value}")
    tiles = to_uint8(images)
    n, h, w, c = tiles.shape
    if n == 0:
        raise ValueError("image_grid needs at least one image")
    nrow = math.ceil(math.sqrt(n)) if nrow is None else require_int("nrow", nrow)
    rows = math.ceil(n / nrow)
    hp, wp = h + padding, w + padding
    grid = np.full((rows * hp + padding, nrow * wp + padding, c), pad_value, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, nrow)
        grid[padding + r * hp : padding + r * hp + h, padding + col * wp : padding + col * wp + w] = tiles[i]
    return upscale(grid, scale)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 [H, W, 3] array as PNG (for IPython.display.Image without a file)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(_check_uint8_image("image", image)).save(buf, format="PNG")
    return buf.getvalue()


def compress_png(data: bytes, colors: int = 256) -> bytes:
    """A smaller PNG of the same picture, for committed notebooks: the image keeps its pixel size
    and is stored as an indexed palette of at most `colors` colours (plots use a few dozen, so the
    picture does not visibly change), zlib level 9. Returns `data` itself when that is not smaller."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image = image.convert("RGBA") if "A" in image.getbands() or image.mode == "P" else image.convert("RGB")
    buf = io.BytesIO()
    image.quantize(colors=colors, method=Image.Quantize.FASTOCTREE).save(buf, format="PNG", optimize=True)
    return buf.getvalue() if buf.tell() < len(data) else data


def label_frame(image: np.ndarray, text: str, height: int = 12, background: int = 255, colour: int = 0) -> np.ndarray:
    """Add a strip with `text` (Pillow's built-in bitmap font) under a uint8 [H, W, 3] image."""
    from PIL import Image, ImageDraw

    image, height = _check_uint8_image("image", image), require_int("height", height)
    h, w, c = image.shape
    strip = Image.new("RGB", (w, height), (background,) * 3)
    ImageDraw.Draw(strip).text((2, max(0, (height - 11) // 2)), text, fill=(colour,) * 3)
    return np.concatenate([image, np.asarray(strip.convert("RGBA" if c == 4 else "RGB"), dtype=np.uint8)], axis=0)


def progress_gif_frames(frames: Sequence[tuple[int, np.ndarray]], scale: int = 2, nrow: int = 4) -> list[np.ndarray]:
    """Turn stored training frames (step, uint8 [n, H, W, 3] samples) into grids labelled "step N"."""
    out = []
    for step, samples in frames:
        tiles = np.ascontiguousarray(samples)
        imgs = torch.from_numpy(tiles).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        out.append(label_frame(image_grid(imgs, nrow=nrow, scale=scale), f"step {step}"))
    return out


def write_gif(
    frames: Sequence[np.ndarray],
    path: str | os.PathLike,
    fps: float = 4.0,
    hold_last: int = 4,
    loop: int = 0,
) -> Path:
    """Write uint8 frames [H, W, 3] (all the same size) as an animated GIF at `fps` (at most 50) with imageio.

    The last frame is shown `hold_last` (>= 1) times as long, so the final result can be looked
    at before the animation starts over. `loop` is the number of repeats (0: forever). Returns the path.
    """
    import imageio.v2 as imageio

    frames = [_check_uint8_image(f"frame {i}", f) for i, f in enumerate(frames)]
    if not frames:
        raise ValueError("write_gif needs at least one frame")
    shapes = {tuple(f.shape) for f in frames}
    if len(shapes) != 1:
        raise ValueError(f"all GIF frames must have the same shape, got {sorted(shapes)}")
    if require_number("fps", fps, low=0, low_open=True) > 50:
        raise ValueError(
            f"fps must be <= 50, got {fps}: a GIF stores frame delays in 1/100 s and browsers slow down "
            "delays shorter than 0.02 s"
        )
    hold_last, loop = require_int("hold_last", hold_last), require_int("loop", loop, 0)
    if loop > 65535:
        raise ValueError(f"loop must be 0 (forever) or a repeat count up to 65535, got {loop}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_ms = 1000.0 / fps
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * hold_last]
    # one frame: Pillow wants a number, not a list (a training run's first progress frame)
    imageio.mimsave(path, frames, format="GIF", duration=durations if len(frames) > 1 else durations[0], loop=loop)
    return path


def read_gif(path: str | os.PathLike) -> np.ndarray:
    """All frames of a GIF as uint8 [T, H, W, 3] (to check what `write_gif` wrote)."""
    import imageio.v2 as imageio

    frames = imageio.mimread(Path(path))
    return np.stack([np.asarray(f)[..., :3] for f in frames])


def show_gif(path: str | os.PathLike, width: int = 240, pixelated: bool = True):
    """An IPython display object that shows a GIF inline at `width` pixels.

    With `pixelated`, the browser scales it up with nearest neighbour (CSS image-rendering), so a
    small GIF (cheap to commit inside a notebook) still shows crisp pixel art.
    """
    import base64

    from IPython.display import HTML, Image

    width = require_int("width", width)
    if not Path(path).is_file():
        raise FileNotFoundError(f"no GIF at {path}; write one with write_gif first")
    if not pixelated:
        return Image(filename=str(path), width=width)
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return HTML(
        f'<img src="data:image/gif;base64,{data}" width="{width}" '
        'style="image-rendering: pixelated; image-rendering: crisp-edges;" alt="training progress"/>'
    )


def _check_latents(z0: Tensor, z1: Tensor) -> None:
    """Both latents are floating-point tensors of one shape, or a TypeError / ValueError says which is not."""
    for name, z in (("z0", z0), ("z1", z1)):
        if not isinstance(z, Tensor) or not z.is_floating_point():
            got = z.dtype if isinstance(z, Tensor) else type(z).__name__
            raise TypeError(f"{name} must be a floating-point torch.Tensor, got {got}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")


def slerp(z0: Tensor, z1: Tensor, t: Tensor | float) -> Tensor:
    """Spherical interpolation between latents (White, 2016): stays on the shell where Gaussian
    latents live, whereas the straight line's midpoint has a norm about 1/sqrt(2) as large.

    z0, z1: latents of one shape [*S] (e.g. [Z] or [1, Z, 1, 1]); t: a float or weights [K] in [0, 1]
    -> [K, *S], one interpolated latent per weight (K = 1 for a float t).
    """
    _check_latents(z0, z1)
    t = torch.as_tensor(t, dtype=z0.dtype, device=z0.device)
    a, b = z0.flatten(), z1.flatten()
    cos = (a @ b / (a.norm() * b.norm()).clamp_min(1e-12)).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    t = t.reshape(-1, *([1] * z0.dim()))
    if omega.abs() < 1e-6:  # (anti)parallel: fall back to a straight line
        return (1 - t) * z0 + t * z1
    s = torch.sin(omega)
    return torch.sin((1 - t) * omega) / s * z0 + torch.sin(t * omega) / s * z1


def interpolate_latents(z0: Tensor, z1: Tensor, steps: int = 8, mode: str = "slerp") -> Tensor:
    """`steps` latents from z0 to z1 (both included), [steps, *z0.shape], spherical or linear."""
    steps = require_int("steps", steps, 2)
    _check_latents(z0, z1)
    t = torch.linspace(0.0, 1.0, steps, dtype=z0.dtype, device=z0.device)
    if mode == "slerp":
        return slerp(z0, z1, t)
    if mode == "linear":
        return (1 - t.reshape(-1, *([1] * z0.dim()))) * z0 + t.reshape(-1, *([1] * z0.dim())) * z1
    raise ValueError(f"mode must be 'slerp' or 'linear', got {mode!r}")


def show_grid(grid: np.ndarray, title: str | None = None, width: float | None = None, zoom: int = 1):
    """Show a uint8 grid [H, W, 3] with matplotlib (no axes, nearest interpolation); returns the figure.

    The figure is sized so that every grid pixel gets `zoom` x `zoom` screen pixels at the figure's
    dpi: a grid built with `image_grid(..., scale=2)` shows each sprite at twice its size, never
    shrunk. `width` (inches) only widens the figure beyond that. Keep grids under ~900 px wide (for
    32 px sprites at scale 2: nrow <= 12) so JupyterLab's text column does not scale them down.
    """
    import matplotlib.pyplot as plt

    zoom = require_int("zoom", zoom)
    h, w = grid.shape[:2]
    dpi = plt.rcParams["figure.dpi"]
    title_in = 0.35 if title else 0.0
    fig_w = max(w * zoom / dpi, width or 0.0)
    fig = plt.figure(figsize=(fig_w, h * zoom / dpi * fig_w / (w * zoom / dpi) + title_in), layout="none")
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0 - title_in / fig.get_figheight()))
    ax.imshow(grid, interpolation="nearest")
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=10, y=1.0 - 0.05 / fig.get_figheight(), va="top")
    return fig
