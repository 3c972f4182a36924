"""Pixel-art characters: a procedural generator with known attributes, and a loader for real sprites.

Why procedural: every sprite comes with exact attribute labels (hair colour, hair style, skin,
shirt, accessory) drawn uniformly and independently, so the *true* attribute distribution is
known exactly. That is what lets chapter 2 measure mode collapse (coverage of attribute
combinations, KL of attribute histograms) instead of eyeballing samples.

How it stays fast: every sprite is one of a few hundred precomputed index maps (hair style x
accessory x pose x 1-px shifts; each pixel holds a palette *slot* such as "hair shadow") plus
one of 60 palettes (hair colour x skin x shirt). Rendering a batch is a single gather, so
making sprites costs about as much as copying them (well over 10,000 sprites/s on a CPU).

`load_sprites` turns any folder of PNGs, or a sprite sheet cut into tiles, into the same
[N, 3, size, size] tensor in [-1, 1], so the chapter can be rerun on your own characters.
"""

from __future__ import annotations

import functools
import itertools
import math
import numbers
import os
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from ..checks import require_int

SPRITE_SIZE = 32

#: Attribute name -> its values, in label order. Labels in `SpriteBatch.labels` index these.
SPRITE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "hair_colour": ("black", "blonde", "red", "blue", "pink"),
    "hair_style": ("short", "long", "spiky", "ponytail"),
    "skin": ("light", "tan", "dark"),
    "shirt": ("red", "green", "white", "purple"),
    "accessory": ("none", "hat"),
}
ATTRIBUTE_NAMES: tuple[str, ...] = tuple(SPRITE_ATTRIBUTES)
#: Number of values of each attribute, in label order (what conditional models are built for).
ATTRIBUTE_SIZES: tuple[int, ...] = tuple(len(v) for v in SPRITE_ATTRIBUTES.values())
N_COMBINATIONS: int = math.prod(len(v) for v in SPRITE_ATTRIBUTES.values())

#: Background colour of procedural sprites (RGB 0..255); also the default for `load_sprites`.
SPRITE_BACKGROUND: tuple[int, int, int] = (238, 234, 222)

#: Default pixel limit of `load_sprites`, for each file read and for the sprites cut from it.
#: Sprite sheets are small (a 1024x1024 sheet holds 1,024 sprites of 32x32); a 4096x4096 image
#: already takes 256 MiB as float RGBA, and a 16k x 16k one would take 4 GiB. Raise it with
#: `load_sprites(..., max_pixels=...)` when a bigger file is really meant.
MAX_IMAGE_PIXELS: int = 4096 * 4096


def attribute_distribution() -> dict[str, torch.Tensor]:
    """The exact marginal distribution of each attribute in `make_sprites` (uniform, float64).

    Returns {attribute: probabilities [K]} with K = the number of values of that attribute, each 1 / K.

    Attributes are drawn independently, so the joint distribution is the product of these and
    every one of the `N_COMBINATIONS` combinations has probability 1 / N_COMBINATIONS.
    """
    return {k: torch.full((len(v),), 1.0 / len(v), dtype=torch.float64) for k, v in SPRITE_ATTRIBUTES.items()}


def expected_coverage(n: int, n_combinations: int = N_COMBINATIONS) -> float:
    """Expected fraction of combinations hit by n ideal (real) samples: the ceiling for coverage.

    With 480 combinations, 2,000 perfect samples still miss about 1.5 % of them, so a
    generator's coverage should be read against this number, not against 1.
    """
    n, n_combinations = require_int("n", n, 0), require_int("n_combinations", n_combinations)
    return 1.0 - (1.0 - 1.0 / n_combinations) ** n


class SpriteBatch(NamedTuple):
    """Images in [-1, 1], shape [N, 3, 32, 32], and integer labels [N, n_attributes] (`ATTRIBUTE_NAMES` order)."""

    images: torch.Tensor
    labels: torch.Tensor


# --------------------------------------------------------------------------------------------
# Palette slots: each template pixel names one of these; each palette gives them colours.
BG, OUTLINE, SKIN, SKIN_SH, HAIR, HAIR_SH, HAIR_HI = 0, 1, 2, 3, 4, 5, 6
SHIRT, SHIRT_SH, SHIRT_HI, PANTS, PANTS_SH, SHOE, EYE = 7, 8, 9, 10, 11, 12, 13
HAT, HAT_SH, HAT_BAND, MOUTH, HAT_HI = 14, 15, 16, 17, 18
N_SLOTS = 19

_FIXED_COLOURS = {
    BG: SPRITE_BACKGROUND,
    OUTLINE: (34, 28, 42),
    PANTS: (64, 72, 112),
    PANTS_SH: (44, 50, 82),
    SHOE: (96, 60, 40),
    EYE: (30, 26, 44),
    HAT: (156, 100, 54),
    HAT_SH: (112, 70, 36),
    HAT_HI: (196, 140, 84),
    HAT_BAND: (66, 44, 32),
}
# (base, shadow, highlight) per value, in SPRITE_ATTRIBUTES order.
_HAIR_COLOURS = (
    ((58, 54, 74), (36, 32, 48), (112, 108, 138)),  # black
    ((246, 210, 84), (204, 158, 44), (255, 242, 170)),  # blonde
    ((214, 56, 44), (150, 34, 30), (250, 128, 96)),  # red
    ((62, 108, 224), (40, 66, 160), (130, 176, 252)),  # blue
    ((246, 132, 198), (200, 84, 152), (255, 196, 228)),  # pink
)
_SKIN_COLOURS = (  # (base, shadow, mouth)
    ((255, 222, 190), (228, 180, 146), (196, 120, 110)),  # light
    ((220, 162, 112), (182, 124, 84), (140, 76, 60)),  # tan
    ((138, 90, 58), (102, 64, 40), (70, 38, 30)),  # dark
)
_SHIRT_COLOURS = (
    ((204, 52, 58), (148, 32, 42), (236, 104, 104)),  # red
    ((62, 162, 82), (40, 116, 56), (112, 206, 122)),  # green
    ((236, 236, 242), (180, 182, 200), (255, 255, 255)),  # white
    ((136, 76, 188), (96, 50, 142), (178, 122, 222)),  # purple
)

#: The base RGB colour (0-255) of each value of the attributes that are colours, in label order
#: (for plots that should show red hair in red).
ATTRIBUTE_COLOURS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "hair_colour": tuple(c[0] for c in _HAIR_COLOURS),
    "skin": tuple(c[0] for c in _SKIN_COLOURS),
    "shirt": tuple(c[0] for c in _SHIRT_COLOURS),
}

# Pose variation that is *not* an attribute (a generator has to learn it, a classifier to ignore it).
_SHIFTS = tuple(itertools.product((-1, 0, 1), (-1, 0, 1)))  # (dy, dx)
_N_LEGS, _N_ARMS, _N_EYES = 2, 2, 2


class _Canvas:
    """A 32x32 grid of palette slots that parts are painted onto, back to front."""

    def __init__(self) -> None:
        self.slots = np.zeros((SPRITE_SIZE, SPRITE_SIZE), dtype=np.int64)

    @staticmethod
    def mask(*pieces: tuple) -> np.ndarray:
        """Union of rectangles (x0, x1, y0, y1, inclusive) and single pixels (x, y)."""
        m = np.zeros((SPRITE_SIZE, SPRITE_SIZE), dtype=bool)
        for p in pieces:
            if len(p) == 4:
                x0, x1, y0, y1 = p
                m[y0 : y1 + 1, x0 : x1 + 1] = True
            else:
                m[p[1], p[0]] = True
        return m

    def paint(self, m: np.ndarray, base: int, shadow: int | None = None, hi: int | None = None) -> None:
        """Paint a part lit from the top left: right/bottom edges in shadow, top-left edges highlighted."""
        tone = np.full(m.shape, base)
        if shadow is not None:
            right_open = ~np.pad(m, ((0, 0), (0, 1)))[:, 1:]
            below_open = ~np.pad(m, ((0, 1), (0, 0)))[1:, :]
            tone[m & (right_open | below_open)] = shadow
        if hi is not None:
            left_open = ~np.pad(m, ((0, 0), (1, 0)))[:, :-1]
            above_open = ~np.pad(m, ((1, 0), (0, 0)))[:-1, :]
            right_open = ~np.pad(m, ((0, 0), (0, 1)))[:, 1:]
            tone[m & above_open & left_open & ~right_open] = hi
        self.slots[m] = tone[m]


def _hair_masks(style: int, hat: bool) -> tuple[np.ndarray, np.ndarray]:
    """(behind-the-body mask, in-front mask) of a hair style."""
    M = _Canvas.mask
    cap = M((12, 19, 4, 4), (11, 20, 5, 5), (10, 21, 6, 8))
    back = np.zeros_like(cap)
    if style == 0:  # short, side-swept fringe
        front = cap | M((10, 13, 9, 9), (10, 11, 10, 10), (19, 21, 9, 9), (10, 10, 11, 12), (21, 21, 10, 12))
    elif style == 1:  # long, parted, hanging over the shoulders
        front = cap | M(
            (9, 22, 7, 8), (10, 12, 9, 9), (19, 21, 9, 9), (9, 10, 9, 18), (21, 22, 9, 18), (9, 19), (22, 19)
        )
    elif style == 2:  # spiky: spikes on top and sticking out at the sides
        front = cap | M(
            (12, 2), (11, 3), (12, 3), (13, 3),
            (15, 2), (16, 2), (14, 3), (15, 3), (16, 3), (17, 3),
            (19, 2), (18, 3), (19, 3), (20, 3),
            (10, 21, 9, 9), (11, 10), (14, 10), (17, 10), (20, 10),
            (7, 9, 8, 8), (8, 9, 9, 9), (9, 10, 10, 11),
            (22, 24, 8, 8), (22, 23, 9, 9), (21, 22, 10, 11),
        )  # fmt: skip
    else:  # ponytail tied on the left
        front = cap | M((10, 12, 9, 9), (20, 21, 9, 9), (10, 10, 10, 11), (21, 21, 10, 11))
        back = M((7, 9, 6, 8), (6, 8, 9, 13), (6, 7, 14, 16), (6, 17))
    return back, front


@functools.lru_cache(maxsize=None)
def _templates() -> torch.Tensor:
    """All index maps: [hair_style, accessory, legs, arms, eyes, shift] -> [32, 32] palette slots (int64)."""
    M = _Canvas.mask
    out = torch.zeros(
        len(SPRITE_ATTRIBUTES["hair_style"]), len(SPRITE_ATTRIBUTES["accessory"]),
        _N_LEGS, _N_ARMS, _N_EYES, len(_SHIFTS), SPRITE_SIZE, SPRITE_SIZE, dtype=torch.long,
    )  # fmt: skip
    for style, hat, legs, arms, eyes in itertools.product(
        range(4), range(2), range(_N_LEGS), range(_N_ARMS), range(_N_EYES)
    ):
        c = _Canvas()
        back_hair, front_hair = _hair_masks(style, bool(hat))
        c.paint(back_hair, HAIR, HAIR_SH)
        # legs and shoes (tall characters get one more row of leg)
        e = legs
        c.paint(M((11, 20, 24, 25), (11, 14, 26, 26 + e), (17, 20, 26, 26 + e)), PANTS, PANTS_SH)
        c.slots[M((11, 20, 24, 24))] = PANTS_SH  # belt
        c.paint(M((11, 14, 27 + e, 27 + e), (10, 14, 28 + e, 28 + e)), SHOE)
        c.paint(M((17, 20, 27 + e, 27 + e), (17, 21, 28 + e, 28 + e)), SHOE)
        # torso and arms
        c.paint(M((11, 20, 17, 23)), SHIRT, SHIRT_SH, SHIRT_HI)
        c.slots[M((15, 16, 17, 17))] = SKIN  # collar
        c.paint(M((10, 10, 17, 17), (9, 10, 18, 21)), SHIRT, SHIRT_SH, SHIRT_HI)
        c.paint(M((9, 10, 22, 23)), SKIN, SKIN_SH)
        if arms == 0:  # both arms down
            c.paint(M((21, 21, 17, 17), (21, 22, 18, 21)), SHIRT, SHIRT_SH)
            c.paint(M((21, 22, 22, 23)), SKIN, SKIN_SH)
        # head
        face = M((11, 20, 7, 16)) & ~M((11, 7), (20, 7), (11, 16), (20, 16))
        c.paint(face | M((10, 10, 11, 12), (21, 21, 11, 12)), SKIN, SKIN_SH)
        ex = 13 + eyes
        c.slots[M((ex, ex, 11, 12), (ex + 5, ex + 5, 11, 12))] = EYE
        c.slots[M((15, 16, 14, 14))] = MOUTH
        # hair in front of the face; the face is shaded just under the fringe
        c.paint(front_hair, HAIR, HAIR_SH)
        under = face & np.pad(front_hair, ((1, 0), (0, 0)))[:-1, :] & ~front_hair
        c.slots[under & (c.slots == SKIN)] = SKIN_SH
        hi = M((13, 5), (14, 5), (12, 6)) & front_hair
        c.slots[hi] = HAIR_HI
        if arms == 1:  # right arm raised, waving (painted over any hair)
            c.paint(M((21, 22, 17, 18), (23, 24, 13, 18)), SHIRT, SHIRT_SH)
            c.paint(M((23, 24, 11, 12)), SKIN, SKIN_SH)
        if hat:
            c.paint(M((12, 19, 2, 2), (11, 20, 3, 5)), HAT, HAT_SH, HAT_HI)
            c.slots[M((11, 20, 6, 6))] = HAT_BAND
            c.paint(M((8, 23, 7, 7)), HAT, HAT_SH)
            c.slots[M((8, 22, 7, 7))] = HAT
        # a dark outline around the whole silhouette (4-neighbourhood)
        sil = c.slots != BG
        grown = sil.copy()
        grown[1:] |= sil[:-1]
        grown[:-1] |= sil[1:]
        grown[:, 1:] |= sil[:, :-1]
        grown[:, :-1] |= sil[:, 1:]
        c.slots[grown & ~sil] = OUTLINE
        base = torch.from_numpy(c.slots)
        if base[0].any() or base[-1].any() or base[:, 0].any() or base[:, -1].any():
            raise AssertionError("sprite template touches the border; shifts would wrap it")
        for s, (dy, dx) in enumerate(_SHIFTS):
            out[style, hat, legs, arms, eyes, s] = torch.roll(base, shifts=(dy, dx), dims=(0, 1))
    return out


@functools.lru_cache(maxsize=None)
def _palettes() -> torch.Tensor:
    """[hair_colour, skin, shirt, slot, rgb] colours as floats in [-1, 1]."""
    nh, ns, nc = (len(SPRITE_ATTRIBUTES[k]) for k in ("hair_colour", "skin", "shirt"))
    pal = torch.zeros(nh, ns, nc, N_SLOTS, 3)
    for slot, rgb in _FIXED_COLOURS.items():
        pal[..., slot, :] = torch.tensor(rgb, dtype=torch.float32)
    for i, (b, s, h) in enumerate(_HAIR_COLOURS):
        pal[i, :, :, HAIR], pal[i, :, :, HAIR_SH], pal[i, :, :, HAIR_HI] = map(torch.tensor, (b, s, h))
    for i, (b, s, m) in enumerate(_SKIN_COLOURS):
        pal[:, i, :, SKIN], pal[:, i, :, SKIN_SH], pal[:, i, :, MOUTH] = map(torch.tensor, (b, s, m))
    for i, (b, s, h) in enumerate(_SHIRT_COLOURS):
        pal[:, :, i, SHIRT], pal[:, :, i, SHIRT_SH], pal[:, :, i, SHIRT_HI] = map(torch.tensor, (b, s, h))
    return pal / 127.5 - 1.0


def _as_generator(seed: int | torch.Generator) -> torch.Generator:
    """A CPU torch.Generator from a seed (a non-negative integer) or the generator itself."""
    if isinstance(seed, torch.Generator):
        if seed.device.type != "cpu":
            raise ValueError("make_sprites needs a CPU torch.Generator (sprites are drawn on the CPU, then moved)")
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be a non-negative integer or a torch.Generator, got {type(seed).__name__} {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer or a torch.Generator, got {seed!r}")
    return torch.Generator().manual_seed(int(seed))


def render_sprites(labels: torch.Tensor, seed: int | torch.Generator = 0) -> torch.Tensor:
    """Draw sprites with the given attribute labels [N, n_attributes]; pose/offset are random.

    Useful to build controlled test sets, e.g. "only red hair" for a mode-collapse check.
    """
    labels = torch.as_tensor(labels).cpu()
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise TypeError(f"labels must be integers (value indices), got a {labels.dtype} tensor; use .long()")
    labels = labels.long()
    if labels.ndim != 2 or labels.shape[1] != len(ATTRIBUTE_NAMES):
        raise ValueError(f"labels must have shape [N, {len(ATTRIBUTE_NAMES)}] ({', '.join(ATTRIBUTE_NAMES)})")
    for j, (name, values) in enumerate(SPRITE_ATTRIBUTES.items()):
        if labels.shape[0] and (labels[:, j].min() < 0 or labels[:, j].max() >= len(values)):
            raise ValueError(f"label column {j} ({name}) must lie in 0..{len(values) - 1}")
    g = _as_generator(seed)
    n = labels.shape[0]
    nuisance = torch.stack(
        [torch.randint(k, (n,), generator=g) for k in (_N_LEGS, _N_ARMS, _N_EYES, len(_SHIFTS))], dim=1
    )
    hc, hs, sk, sh, acc = labels.unbind(1)
    legs, arms, eyes, shift = nuisance.unbind(1)
    tmpl = _templates()[hs, acc, legs, arms, eyes, shift]  # [N, 32, 32] palette slots
    pal = _palettes()
    flat_pal = pal.reshape(-1, 3)  # [(hair*skin*shirt*slot), 3]
    pal_idx = ((hc * pal.shape[1] + sk) * pal.shape[2] + sh) * N_SLOTS  # [N]
    idx = tmpl + pal_idx[:, None, None]
    return flat_pal[idx].permute(0, 3, 1, 2).contiguous()


def make_sprites(n: int, seed: int | torch.Generator = 0, device: str | torch.device | None = None) -> SpriteBatch:
    """n random pixel-art characters, attributes uniform and independent; same seed, same sprites.

    Returns `SpriteBatch(images [n,3,32,32] float32 in [-1,1], labels [n,5] int64)`; label
    columns follow `ATTRIBUTE_NAMES` and index the value tuples of `SPRITE_ATTRIBUTES`.
    """
    n = require_int("n (a non-negative number of sprites)", n, 0)
    g = _as_generator(seed)
    labels = torch.stack([torch.randint(len(v), (n,), generator=g) for v in SPRITE_ATTRIBUTES.values()], dim=1)
    images = render_sprites(labels, g)
    if device is not None:
        images, labels = images.to(device), labels.to(device)
    return SpriteBatch(images, labels)


#: The seed of the sprites the GANs of chapters 2, 3 and 4 train on (`sprite_training_set`; chapter 4's
#: `ProGANConfig.data_seed` defaults to it), so all three see the same characters.
DATA_SEED = 1234


@functools.lru_cache(maxsize=4)
def sprite_training_set(n: int, seed: int = DATA_SEED) -> SpriteBatch:
    """The training sprites: `make_sprites(n, seed)` (images [n, 3, 32, 32] float32 in [-1, 1], labels
    [n, 5] int64, on the CPU), drawn once per (n, seed) and cached.

    Cached: repeated calls return the same tensors, so copy them (e.g. `.to(device)`) before any
    in-place change."""
    return make_sprites(n, seed=seed)


def sprite_dataset(config, device: str | torch.device = "cpu") -> torch.Tensor:
    """The GAN chapters' training set: `config.dataset_size` sprites [N, 3, 32, 32] of `sprite_training_set`
    (seed `DATA_SEED`), on `device`, channels_last when `config.channels_last` (a `DCGANConfig`)."""
    images = sprite_training_set(config.dataset_size, DATA_SEED).images.to(device)
    return images.contiguous(memory_format=torch.channels_last) if config.channels_last else images


def sprite_labels(config, device: str | torch.device = "cpu") -> torch.Tensor:
    """The attribute labels [N, 5] of `sprite_dataset(config)` (row for row), for the conditional runs."""
    return sprite_training_set(config.dataset_size, DATA_SEED).labels.to(device)


def sprite_sampler(device: str | torch.device | None = None) -> Callable[[int, torch.Generator], torch.Tensor]:
    """A training sampler that draws *fresh* procedural sprites: `sample(batch_size, generator)`.

    sample(B, generator) -> images [B, 3, 32, 32] float32 in [-1, 1] on `device`.

    The generator must be a CPU torch.Generator; the batch is moved to `device`.
    """

    def sample(batch_size: int, generator: torch.Generator) -> torch.Tensor:
        return make_sprites(batch_size, generator, device=device).images

    return sample


def tensor_sampler(
    images: torch.Tensor, labels: torch.Tensor | None = None
) -> Callable[[int, torch.Generator | None], torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
    """A training sampler over a fixed dataset: `sample(batch_size, generator)` -> random rows.

    images [N, ...] (e.g. [N, 3, 32, 32] in [-1, 1]), labels [N, ...] (e.g. [N, 5] int64) ->
    sample(B, generator) -> images [B, ...], or (images [B, ...], labels [B, ...]), on the data's devices.

    Indices are drawn with replacement from the given torch.Generator (on its own device), so a
    checkpoint that stores the generator state resumes the exact same data stream. With
    `labels` (one row per image) it returns (images, labels) rows, for a conditional GAN.
    """
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"tensor_sampler needs a torch.Tensor of samples along dim 0, got {type(images).__name__}")
    if images.ndim < 1 or images.shape[0] == 0:
        raise ValueError(f"tensor_sampler needs a non-empty tensor of samples along dim 0, got {tuple(images.shape)}")
    n = images.shape[0]
    if labels is not None and not isinstance(labels, torch.Tensor):
        raise TypeError(f"labels must be a torch.Tensor with one row per image ({n}), got {type(labels).__name__}")
    if labels is not None and (labels.ndim < 1 or labels.shape[0] != n):
        raise ValueError(f"labels must be a tensor with one row per image ({n}), got shape {tuple(labels.shape)}")

    def sample(batch_size: int, generator: torch.Generator | None = None):
        batch_size = require_int("batch_size", batch_size)
        dev = generator.device if generator is not None else torch.device("cpu")
        idx = torch.randint(n, (batch_size,), generator=generator, device=dev)
        # non_blocking: a blocking host-to-GPU copy waits for all queued GPU work, once per training
        # step; from pageable memory the copy is staged before the call returns, so this is safe
        if labels is None:
            return images[idx.to(images.device, non_blocking=True)]
        return images[idx.to(images.device, non_blocking=True)], labels[idx.to(labels.device, non_blocking=True)]

    return sample


# --------------------------------------------------------------------------------------------
# Loading real sprites
_PNG_SUFFIXES = {".png"}


def _too_big(what: str, max_pixels: int) -> ValueError:
    """The error for an image (or its cut sprites) larger than `max_pixels`; `what` says what and how big."""
    return ValueError(
        f"{what}, more than the limit of max_pixels={max_pixels:,} pixels (sprite sheets are much smaller). "
        "Crop or split the image into smaller sheets, or pass load_sprites(..., max_pixels=...) a higher limit "
        "if you really mean to load it."
    )


def _open_rgba(path: Path, max_pixels: int = MAX_IMAGE_PIXELS) -> np.ndarray:
    """Read an image file as float32 RGBA in [0, 1], [H, W, 4]; 16-bit and palette PNGs included.

    The size is read from the header before any pixel is decoded: an image over `max_pixels`
    pixels is refused with a ValueError (not a MemoryError or Pillow's DecompressionBombError).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit is checked below
            img = Image.open(path)  # lazy: reads the header only
        with img:
            w, h = img.size
            if w * h > max_pixels:
                raise _too_big(f"{path} is {w}x{h} = {w * h:,} pixels", max_pixels)
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
                # 16-bit greyscale: Pillow's convert("RGB") would clip at 255; rescale instead.
                arr = np.asarray(img).astype(np.float64)
                top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
                grey = np.clip(arr / top, 0.0, 1.0).astype(np.float32)
                alpha = np.ones_like(grey)
                if "transparency" in img.info and isinstance(img.info["transparency"], int):
                    alpha = (arr != img.info["transparency"]).astype(np.float32)
                return np.stack([grey, grey, grey, alpha], axis=-1)
            # P (palette, with or without tRNS), L, LA, RGB, RGBA, 1, CMYK...: Pillow converts these exactly.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "palette images with transparency should be RGBA"
                rgba = img.convert("RGBA")
            return np.asarray(rgba, dtype=np.float32) / 255.0
    except Image.DecompressionBombError as exc:  # so far above Pillow's own limit that Pillow will not open it
        found = re.search(r"\((\d+) pixels\)", str(exc))
        if found and int(found[1]) > max_pixels:
            raise _too_big(f"{path} is {int(found[1]):,} pixels", max_pixels) from exc
        raise ValueError(
            f"{path}: Pillow refuses to open it ({exc}); if you trust the file, raise PIL.Image.MAX_IMAGE_PIXELS "
            "as well as max_pixels, or split the image into smaller sheets"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ValueError(
            f"{path} is not an image Pillow can read; remove it from the folder or re-export it as PNG"
        ) from exc
    except PermissionError:
        raise  # its own message says what is wrong; it is not a corrupt file
    except (OSError, SyntaxError) as exc:  # truncated / corrupt data surfaces as OSError
        raise ValueError(
            f"{path} could not be decoded ({exc}); the file is probably truncated or corrupt. "
            "Re-export or re-download it, or remove it from the folder."
        ) from exc


_TILE_FORMS = 'an int, a (width, height) pair of ints, or a string such as "32", "32x24" or "32,24"'
_TILE_TEXT = re.compile(r"\s*(\d+)\s*(?:[x\u00d7,]\s*(\d+)\s*)?", re.IGNORECASE)  # \u00d7: "32×24" too


def _tile_size(tile: int | str | Sequence[int] | None) -> tuple[int, int] | None:
    """(width, height) of the tiles of a sheet from `tile` (see `_TILE_FORMS`), or None for no tiling."""
    if tile is None:
        return None
    if isinstance(tile, str):  # never iterate a string: "32" would become tiles of 3x2 pixels
        found = _TILE_TEXT.fullmatch(tile)
        if not found:
            raise ValueError(f"tile must be {_TILE_FORMS}; could not read the string {tile!r}")
        tile = (int(found[1]), int(found[2] or found[1]))
    elif isinstance(tile, numbers.Integral) and not isinstance(tile, bool):
        tile = (tile, tile)
    elif not isinstance(tile, (Sequence, np.ndarray)):
        raise TypeError(f"tile must be {_TILE_FORMS}, got {tile!r} ({type(tile).__name__})")
    if len(tile) != 2:
        raise ValueError(f"tile must be {_TILE_FORMS}; got {len(tile)} values: {tile!r}")
    return require_int("tile width", tile[0]), require_int("tile height", tile[1])


def _fit(rgb: np.ndarray, size: int, bg: np.ndarray) -> np.ndarray:
    """Centre an [H, W, 3] sprite on a size x size background; crop/shrink it if it is too big.

    A sprite that fits is only padded (its placement in the tile is kept). A bigger one is
    cropped to its content (pixels that differ from the background); if that is still too
    big it is shrunk by the smallest integer factor k that fits, sampling the centre pixel
    of each k x k block on a grid aligned with the image, so pixel art stored upscaled by k
    comes back pixel-exact.
    """
    h, w = rgb.shape[:2]
    if h > size or w > size:
        content = np.any(np.abs(rgb - bg) > 1e-6, axis=-1)
        ys, xs = np.nonzero(content)
        y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
        k = max(math.ceil((y1 - y0) / size), math.ceil((x1 - x0) / size))
        # align the sampling grid with k x k blocks; grow k if the aligned box no longer fits
        while math.ceil((y1 - y0 // k * k) / k) > size or math.ceil((x1 - x0 // k * k) / k) > size:
            k += 1
        y0, x0 = y0 // k * k, x0 // k * k
        rgb = rgb[y0:y1, x0:x1]
        if k > 1:
            bh, bw = rgb.shape[:2]
            iy = np.minimum(np.arange(math.ceil(bh / k)) * k + k // 2, bh - 1)
            ix = np.minimum(np.arange(math.ceil(bw / k)) * k + k // 2, bw - 1)
            rgb = rgb[iy][:, ix]
        h, w = rgb.shape[:2]
    canvas = np.broadcast_to(bg, (size, size, 3)).copy()
    y, x = (size - h) // 2, (size - w) // 2
    canvas[y : y + h, x : x + w] = rgb
    return canvas


@dataclass
class SpriteLoadReport:
    """What `load_sprite_set` kept and skipped, so a messy sheet is never silently half-read."""

    files: int = 0
    tiles: int = 0  # tiles (or whole images) looked at
    kept: int = 0
    empty: int = 0  # fully transparent or one flat colour
    duplicates: int = 0  # pixel-identical to a sprite kept earlier (after fitting to size)
    shrunk: int = 0  # larger than size: cropped to their content and shrunk by an integer factor
    cropped_remainders: list[str] = field(default_factory=list)  # sheets with pixels left over

    def __str__(self) -> str:
        parts = [f"kept {self.kept} sprites of {self.tiles} tiles in {self.files} file(s)"]
        skipped = [f"{n} {what}" for n, what in ((self.empty, "empty"), (self.duplicates, "duplicates")) if n]
        if skipped:
            parts.append("skipped " + ", ".join(skipped))
        if self.shrunk:
            parts.append(f"{self.shrunk} larger than the model's size were cropped and shrunk")
        if self.cropped_remainders:
            parts.append(f"{len(self.cropped_remainders)} sheet(s) had a remainder that is not a whole tile")
        return "; ".join(parts)


def _sheet_grid(name: str, w: int, h: int, tw: int, th: int, spacing: int, margin: int) -> tuple[int, int, str]:
    """Columns and rows of whole tiles in a w x h sheet, and a warning naming any pixels left over."""
    cols = (w - 2 * margin + spacing) // (tw + spacing)
    rows = (h - 2 * margin + spacing) // (th + spacing)
    if cols < 1 or rows < 1:
        raise ValueError(
            f"sprite sheet {name} is {w}x{h} pixels: no {tw}x{th} tile fits with margin {margin} and spacing "
            f"{spacing}; pass the sheet's real tile size (tile=...), spacing= and margin="
        )
    right = w - 2 * margin - cols * tw - (cols - 1) * spacing
    bottom = h - 2 * margin - rows * th - (rows - 1) * spacing
    note = ""
    if right or bottom:
        note = (
            f"sprite sheet {name} is {w}x{h} pixels, not a whole number of {tw}x{th} tiles (spacing {spacing}, "
            f"margin {margin}): used {cols} x {rows} tiles and skipped the last {right} px on the right and "
            f"{bottom} px at the bottom. If tiles look cut, pass the sheet's real tile=, spacing= and margin="
        )
    return cols, rows, note


def load_sprites(path: str | os.PathLike, *args, quiet: bool = False, **kwargs) -> torch.Tensor:
    """Load your own sprites as a [N, 3, size, size] float32 tensor in [-1, 1], and print what was
    kept and skipped (`quiet=True` to not). The arguments are `load_sprite_set`'s."""
    images, report = load_sprite_set(path, *args, **kwargs)
    if not quiet:
        print(f"load_sprites({Path(path).name}): {report}")
    return images


def load_sprite_set(
    path: str | os.PathLike,
    size: int = SPRITE_SIZE,
    background: Sequence[int] = SPRITE_BACKGROUND,
    tile: int | str | Sequence[int] | None = None,
    max_pixels: int = MAX_IMAGE_PIXELS,
    *,
    spacing: int = 0,
    margin: int = 0,
    keep_duplicates: bool = False,
) -> tuple[torch.Tensor, SpriteLoadReport]:
    """Your own sprites as a [N, 3, size, size] float32 tensor in [-1, 1], and a report of what was
    kept and what was skipped.

    `path` is a PNG file or a folder of PNGs (sorted by name, not recursive). With `tile`
    (an int, a (width, height) pair, or a string "32", "32x24" or "32,24"), each file is a
    sprite sheet cut into tiles, row by row, with `margin` pixels around the sheet's edge and
    `spacing` pixels between tiles (as tile-set editors such as Tiled write them). A sheet whose
    size is not a whole number of tiles is cut into the tiles that fit, with a warning that says
    how many pixels were left over.
    Each sprite is composited on `background` (RGB 0..255) where transparent, centred on a
    size x size canvas, and - if larger - cropped to its content and shrunk by an integer
    factor with nearest-neighbour sampling (so 4x-upscaled pixel art comes back exactly).
    Empty tiles (fully transparent or a single colour) are skipped, and so are exact duplicates
    (after fitting) unless `keep_duplicates`: a sheet that repeats a tile would otherwise teach
    the GAN that tile several times over. 16-bit, palette, greyscale and greyscale+alpha PNGs are
    converted to 8-bit RGB correctly.

    A file larger than `max_pixels` pixels (default `MAX_IMAGE_PIXELS`, 4096 x 4096) is
    refused before it is decoded, and so is a file whose sprites would hold more pixels than that.
    """
    size, max_pixels = require_int("size", size), require_int("max_pixels", max_pixels)
    spacing, margin = require_int("spacing", spacing, 0), require_int("margin", margin, 0)
    want_bg = f"three integers 0..255 (r, g, b), got {background!r}"
    if isinstance(background, str) or not isinstance(background, (Sequence, np.ndarray)):
        raise TypeError(f"background must be {want_bg}")
    if len(background) != 3:
        raise ValueError(f"background must be {want_bg}")
    bg_int = [require_int("background channel", v, 0) for v in background]
    if max(bg_int) > 255:
        raise ValueError(f"background must be {want_bg}")
    bg = np.asarray(bg_int, dtype=np.float32) / 255.0
    tile_wh = _tile_size(tile)

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder of PNG sprites or a sprite-sheet file (str or Path), got {path!r}")
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root} does not exist: pass a folder of PNG sprites or a sprite-sheet PNG")
    if root.is_dir():
        files = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in _PNG_SUFFIXES)
        if not files:
            raise FileNotFoundError(
                f"no .png files in folder {root}; put PNG sprites there, or pass a sprite-sheet file with tile=..."
            )
    else:
        files = [root]

    sprites: list[np.ndarray] = []
    seen: set[bytes] = set()
    report = SpriteLoadReport(files=len(files))
    for f in files:
        rgba = _open_rgba(f, max_pixels)
        h, w = rgba.shape[:2]
        if tile_wh is None:
            tw, th, cols, rows, step_x, step_y, x0, y0 = w, h, 1, 1, w, h, 0, 0
        else:
            tw, th = tile_wh
            cols, rows, leftover = _sheet_grid(str(f), w, h, tw, th, spacing, margin)
            if leftover:
                warnings.warn(leftover, stacklevel=3)
                report.cropped_remainders.append(leftover)
            step_x, step_y, x0, y0 = tw + spacing, th + spacing, margin, margin
        n = cols * rows
        if n * size * size > max_pixels:  # tiny tiles or a huge size would run out of memory
            raise _too_big(
                f"{f} gives {n:,} sprites of {size}x{size} = {n * size * size:,} pixels (check tile= and size=)",
                max_pixels,
            )
        tiles = [
            rgba[y0 + r * step_y : y0 + r * step_y + th, x0 + c * step_x : x0 + c * step_x + tw]
            for r in range(rows)
            for c in range(cols)
        ]
        for t in tiles:
            report.tiles += 1
            alpha = t[..., 3:4]
            rgb = t[..., :3] * alpha + bg * (1.0 - alpha)
            if not np.any(alpha > 0) or np.all(np.abs(rgb - rgb[0, 0]) < 1e-6):
                report.empty += 1  # fully transparent, or one flat colour: an empty cell of the sheet
                continue
            fitted = _fit(rgb, size, bg)
            report.shrunk += int(max(t.shape[:2]) > size)
            key = np.round(fitted * 255).astype(np.uint8).tobytes()
            if key in seen and not keep_duplicates:
                report.duplicates += 1
                continue
            seen.add(key)
            sprites.append(fitted)
    if not sprites:
        raise ValueError(
            f"no non-empty sprites in {root}: every image/tile was transparent or one flat colour. "
            "Check the tile size and that the PNGs hold the characters."
        )
    report.kept = len(sprites)
    arr = np.stack(sprites).astype(np.float32)  # [N, size, size, 3] in [0, 1]
    return torch.from_numpy(arr).permute(0, 3, 1, 2).mul(2.0).sub(1.0).contiguous(), report


BUILTIN_SPRITES = 1000  # the stand-in set when the user gives no sprites: procedural, a small-data size


def sprites_or_builtin(
    path: str | os.PathLike = "", tile=None, spacing: int = 0, margin: int = 0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The user's sprites (`load_sprites`), or without a path the built-in stand-in (1,000 procedural
    sprites), shuffled by `seed` and split into training [N - H, 3, 32, 32] and held-out [H, 3, 32, 32]
    sprites (H: a tenth, at least 32), with a sentence saying which set it is."""
    if path:
        images = load_sprites(path, tile=tile, spacing=spacing, margin=margin)
        what = f"your sprites from {Path(path).name}: {len(images)} after cleaning"
    else:
        images = make_sprites(BUILTIN_SPRITES, seed=DATA_SEED).images
        what = (
            f"no sprites given: the built-in stand-in, {BUILTIN_SPRITES} procedural sprites (set SPRITES to use yours)"
        )
    return *split_held_out(images, seed), what


def split_held_out(images: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """images [N, 3, H, W] shuffled by `seed` -> (training [N - H, ...], held-out [H, ...]), H a tenth, at least 32:
    the held-out sprites are what tells memorising (the discriminator calls them fake) from learning."""
    held = max(32, len(images) // 10)
    if len(images) < held + 64:
        raise ValueError(
            f"{len(images)} sprites are too few to train and to check for memorising; bring at least {held + 64}"
        )
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[held:]], images[order[:held]]
