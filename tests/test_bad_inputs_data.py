"""Bad input to the image loader, the image helpers and the song functions is refused with a clear error.

Each case names the error type and a pattern the message must contain: the argument, the bad value
or what is expected. A huge image is never allocated: its PNG header only *claims* the size, so a
loader that decoded it before checking the size would fail differently (and a loader that tried
to allocate it would be slow); the limit is checked from the header.
"""

from __future__ import annotations

import math
import struct
import zlib
from types import SimpleNamespace

import mido
import numpy as np
import pytest
import torch
from PIL import Image

from musicgan_lib.data.sprites import (
    MAX_IMAGE_PIXELS,
    expected_coverage,
    load_sprites,
    make_sprites,
    render_sprites,
    tensor_sampler,
)
from musicgan_lib.imaging import (
    image_grid,
    interpolate_latents,
    label_frame,
    png_bytes,
    read_gif,
    show_gif,
    slerp,
    to_uint8,
    upscale,
    write_gif,
)
from musicgan_lib.songs import (
    SongNote,
    Tune,
    fit_to_range,
    raised_cosine_fade,
    read_midi,
    render_song,
    tune,
)

SR = 16000


def header_only_png(path, width: int, height: int):
    """A PNG whose header says width x height but which holds no pixel data (a few dozen bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


@pytest.fixture(scope="module")
def f(tmp_path_factory):
    """Files the cases read: a 64x64 noise sheet (every 16x16 tile non-empty), huge headers, a MIDI file."""
    d = tmp_path_factory.mktemp("bad_inputs")
    sheet = d / "sheet.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8) | 1).save(sheet)
    mid = mido.MidiFile()
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for pitch in (60, 64, 67):
        track.append(mido.Message("note_on", note=pitch, velocity=90, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
    mid.save(str(d / "song.mid"))
    return SimpleNamespace(
        dir=d,
        sheet=sheet,
        big=header_only_png(d / "big.png", 5000, 5000),  # 25 M pixels: above our limit, below Pillow's
        bomb=header_only_png(d / "bomb.png", 20000, 20000),  # 400 M pixels: Pillow itself refuses to open it
        midi=d / "song.mid",
    )


def test_the_pixel_limit_is_a_stated_constant():
    assert MAX_IMAGE_PIXELS == 4096 * 4096


song = tune("c_major_scale")
audio = torch.zeros(len(song), SR // 10)
uint8 = np.zeros((4, 4, 3), np.uint8)
imgs = torch.zeros(4, 3, 2, 2)
z = torch.zeros(8)

CASES = [
    # ---- image loading: size limits, checked from the header before decoding
    (lambda f: load_sprites(f.big), ValueError, r"big\.png is 5000x5000 = 25,000,000 pixels.*=16,777,216.*split"),
    (lambda f: load_sprites(f.bomb), ValueError, r"bomb\.png is 400,000,000 pixels.*max_pixels=16,777,216"),
    (lambda f: load_sprites(f.dir), ValueError, r"big\.png is 5000x5000"),  # a folder: the same check per file
    (lambda f: load_sprites(f.bomb, max_pixels=10**9), ValueError, r"bomb\.png: Pillow refuses.*MAX_IMAGE_PIXELS"),
    (lambda f: load_sprites(f.sheet, max_pixels=1000), ValueError, r"sheet\.png is 64x64 = 4,096 .*=1,000"),
    (lambda f: load_sprites(f.sheet, tile=2, max_pixels=4096), ValueError, r"1,024 sprites of 32x32.*tile= and size"),
    (lambda f: load_sprites(f.sheet, size=600, max_pixels=4096 * 80), ValueError, r"1 sprites of 600x600.*size="),
    (lambda f: load_sprites(f.sheet, max_pixels=0), ValueError, "max_pixels must be at least 1, got 0"),
    (lambda f: load_sprites(f.sheet, max_pixels=2.5), TypeError, r"max_pixels must be an integer, got 2\.5"),
    # ---- tile: a string is parsed or refused, never cut into characters; floats, bools, bad pairs refused
    (lambda f: load_sprites(f.sheet, tile="3x2x1"), ValueError, r"tile must be .*\"32x24\".*'3x2x1'"),
    (lambda f: load_sprites(f.sheet, tile=""), ValueError, r"tile must be .*could not read the string ''"),
    (lambda f: load_sprites(f.sheet, tile="-16"), ValueError, r"could not read the string '-16'"),
    (lambda f: load_sprites(f.sheet, tile="0"), ValueError, "tile width must be at least 1, got 0"),
    (lambda f: load_sprites(f.sheet, tile=16.5), TypeError, r"tile must be an int, a \(width, height\) pair.*16\.5"),
    (lambda f: load_sprites(f.sheet, tile=True), TypeError, "tile must be an int.*got True"),
    (lambda f: load_sprites(f.sheet, tile=(16, 16, 16)), ValueError, r"tile must be .* got 3 values"),
    (lambda f: load_sprites(f.sheet, tile=(16.5, 16)), TypeError, r"tile width must be an integer, got 16\.5"),
    (lambda f: load_sprites(f.sheet, tile=(True, 16)), TypeError, "tile width must be an integer, got True"),
    (lambda f: load_sprites(f.sheet, tile=(16, 0)), ValueError, "tile height must be at least 1, got 0"),
    # ---- the loader's other arguments
    (lambda f: load_sprites(f.sheet, background="255"), TypeError, r"background must be three integers 0\.\.255"),
    (lambda f: load_sprites(f.sheet, background=(1.5, 2, 3)), TypeError, r"background channel must be an .*1\.5"),
    (lambda f: load_sprites(f.sheet, size=16.0), TypeError, r"size must be an integer, got 16\.0"),
    (lambda f: load_sprites(None), TypeError, "path must be a folder of PNG sprites or a sprite-sheet file"),
    # ---- procedural sprites and samplers
    (lambda f: make_sprites(2.0), TypeError, r"n \(a non-negative number of sprites\) must be an integer, got 2\.0"),
    (lambda f: make_sprites("2"), TypeError, r"n \(a non-negative number of sprites\) must be an integer, got '2'"),
    (lambda f: make_sprites(2, seed=1.0), TypeError, "seed must be a non-negative integer or a torch.Generator"),
    (lambda f: render_sprites(torch.full((2, 5), 0.5)), TypeError, "labels must be integers"),
    (lambda f: expected_coverage(-1), ValueError, "n must be at least 0, got -1"),
    (lambda f: expected_coverage(10, 0), ValueError, "n_combinations must be at least 1, got 0"),
    (lambda f: tensor_sampler([1, 2]), TypeError, "tensor_sampler needs a torch.Tensor"),
    (lambda f: tensor_sampler(torch.zeros(3, 2), [0, 1, 2]), TypeError, r"labels must be a torch.Tensor with one row"),
    (lambda f: tensor_sampler(torch.zeros(3, 2))(2.0), TypeError, r"batch_size must be an integer, got 2\.0"),
    # ---- image helpers
    (lambda f: image_grid(imgs, nrow=0), ValueError, "nrow must be at least 1, got 0"),
    (lambda f: image_grid(imgs, nrow=-1), ValueError, "nrow must be at least 1, got -1"),
    (lambda f: image_grid(imgs, nrow=2.5), TypeError, r"nrow must be an integer, got 2\.5"),
    (lambda f: image_grid(imgs, scale=0), ValueError, "scale must be at least 1, got 0"),
    (lambda f: image_grid(imgs, scale=1.5), TypeError, r"scale must be an integer, got 1\.5"),
    (lambda f: image_grid(imgs, padding=-1), ValueError, "padding must be at least 0, got -1"),
    (lambda f: image_grid(imgs, pad_value=300), ValueError, r"pad_value must be .*0\.\.255, got 300"),
    (lambda f: to_uint8("abc"), TypeError, r"images must be a tensor or array \[N, C, H, W\].*got str"),
    (lambda f: to_uint8(torch.zeros(2, 3, 0, 4)), ValueError, r"expected images \[N, 1 or 3, H, W\].*\(2, 3, 0, 4\)"),
    (lambda f: upscale(uint8, 2.0), TypeError, r"factor must be an integer, got 2\.0"),
    (lambda f: upscale(uint8, "2"), TypeError, "factor must be an integer, got '2'"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", fps=0), ValueError, "fps must be > 0, got 0"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", fps=-1), ValueError, "fps must be > 0, got -1"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", fps=math.nan), ValueError, "fps must be a finite number"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", fps=100), ValueError, "fps must be <= 50, got 100.*1/100 s"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", fps="4"), TypeError, "fps must be a number, got '4'"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", hold_last=0), ValueError, "hold_last must be at least 1, got 0"),
    (lambda f: write_gif([uint8] * 2, f.dir / "a.gif", loop=-1), ValueError, "loop must be at least 0, got -1"),
    (lambda f: write_gif([uint8.astype(float)], f.dir / "a.gif"), TypeError, "frame 0 must hold uint8 pixels.*float64"),
    (lambda f: write_gif([uint8, uint8[..., 0]], f.dir / "a.gif"), ValueError, r"frame 1 must be a uint8 .*\(4, 4\)"),
    (lambda f: label_frame(uint8, "x", height=0), ValueError, "height must be at least 1, got 0"),
    (lambda f: label_frame(uint8 / 255, "x"), TypeError, "image must hold uint8 pixels"),
    (lambda f: png_bytes(np.full((4, 4, 3), 0.5)), TypeError, "image must hold uint8 pixels.*to_uint8"),
    (lambda f: show_gif(f.dir / "none.gif"), FileNotFoundError, "no GIF at .*none.gif.*write_gif"),
    (lambda f: interpolate_latents(z, z, steps=2.5), TypeError, r"steps must be an integer, got 2\.5"),
    (lambda f: interpolate_latents(z, z, steps="3"), TypeError, "steps must be an integer, got '3'"),
    (lambda f: interpolate_latents(z.long(), z), TypeError, "z0 must be a floating-point .*torch.int64"),
    (lambda f: slerp(z, torch.zeros(9), 0.5), ValueError, r"z0 and z1 must have the same shape, got \(8,\) and \(9,\)"),
    # ---- songs: read_midi's max_notes and pitch_range, paths
    (lambda f: read_midi(f.midi, max_notes=0), ValueError, "max_notes must be at least 1, got 0"),
    (lambda f: read_midi(f.midi, max_notes=-1), ValueError, "max_notes must be at least 1, got -1"),
    (lambda f: read_midi(f.midi, max_notes=1.5), TypeError, r"max_notes must be an integer, got 1\.5"),
    (lambda f: read_midi(f.midi, max_notes="2"), TypeError, "max_notes must be an integer, got '2'"),
    (lambda f: read_midi(f.midi, max_notes=True), TypeError, "max_notes must be an integer, got True"),
    (lambda f: read_midi(f.midi, pitch_range=(48,)), ValueError, r"pitch_range must be a \(lo, hi\) pair.*\(48,\)"),
    (lambda f: read_midi(f.midi, pitch_range="48-84"), TypeError, r"pitch_range must be a \(lo, hi\) pair.*'48-84'"),
    (lambda f: read_midi(f.midi, pitch_range=(-5, 200)), ValueError, r"lo \(lowest MIDI note\) must be at least 0"),
    (lambda f: read_midi(None), TypeError, "path must be the path of a .mid file"),
    (lambda f: read_midi(f.dir), ValueError, "is a folder; pass the path of one MIDI file"),
    # ---- notes, tunes, tempo
    (lambda f: SongNote(60.5, 0, 1), TypeError, r"MIDI pitch must be an integer, got 60\.5"),
    (lambda f: SongNote("60", 0, 1), TypeError, "MIDI pitch must be an integer, got '60'"),
    (lambda f: SongNote(60, math.nan, 1), ValueError, r"note start \(s\) must be a finite number, got nan"),
    (lambda f: SongNote(60, 0, math.inf), ValueError, r"note duration \(s\) must be a finite number, got inf"),
    (lambda f: SongNote(60, 0, 1, 100.7), TypeError, r"velocity must be an integer, got 100\.7"),
    (lambda f: Tune("t", [(60, 0, 1)]), TypeError, r"note 0 is \(60, 0, 1\), not a SongNote"),
    (lambda f: song.transpose(1.5), TypeError, r"semitones must be an integer, got 1\.5"),
    (lambda f: song.transpose(70), ValueError, r"by \+70 semitones leaves MIDI 0\.\.127; pass .*-60\.\.\+55"),
    (lambda f: tune("twinkle", bpm=0), ValueError, r"bpm \(beats per minute\) must be > 0, got 0"),
    (lambda f: tune("twinkle", bpm=-1), ValueError, r"bpm \(beats per minute\) must be > 0, got -1"),
    (lambda f: tune("twinkle", bpm=math.nan), ValueError, r"bpm \(beats per minute\) must be a finite number"),
    (lambda f: tune("twinkle", bpm="120"), TypeError, r"bpm \(beats per minute\) must be a number, got '120'"),
    (lambda f: tune(["twinkle"]), TypeError, "name must be the name of a built-in tune"),
    (lambda f: fit_to_range(song, 48.5, 84), TypeError, r"lo \(lowest MIDI note\) must be an integer, got 48\.5"),
    (lambda f: fit_to_range(song, 120, 131), ValueError, r"hi \(highest MIDI note\) must be at most 127, got 131"),
    (lambda f: fit_to_range(list(song.notes), 48, 84), TypeError, "song must be a Tune"),
    # ---- rendering
    (lambda f: raised_cosine_fade(-1, 2, 10), ValueError, "n_in must be at least 0, got -1"),
    (lambda f: raised_cosine_fade(1, 2, -1), ValueError, "length must be at least 0, got -1"),
    (lambda f: raised_cosine_fade(1.5, 2, 10), TypeError, r"n_in must be an integer, got 1\.5"),
    (lambda f: render_song(song, audio, 0), ValueError, r"sr \(the sample rate\) must be a positive .*got 0"),
    (lambda f: render_song(song, audio, 16000.5), ValueError, r"sr \(the sample rate\) must be a whole number"),
    (lambda f: render_song(song, audio, SR, fade_in=-1), ValueError, r"fade_in \(s\) must be >= 0, got -1"),
    (lambda f: render_song(song, audio, SR, release=-1), ValueError, r"release \(s\) must be >= 0, got -1"),
    (lambda f: render_song(song, audio, SR, release=math.nan), ValueError, r"release \(s\) must be a finite number"),
    (lambda f: render_song(song, audio[:, :0], SR), ValueError, "note_audio has 0 samples per note"),
    (lambda f: render_song(list(song.notes), audio, SR), TypeError, "song must be a Tune"),
    (lambda f: render_song(song, audio.tolist(), SR), TypeError, r"note_audio must be a tensor \[n_notes, samples\]"),
]


def _case_id(value: object) -> str | None:
    """Name a case by the line of its lambda (the other parameters keep pytest's own ids)."""
    return f"line{value.__code__.co_firstlineno}" if callable(value) and hasattr(value, "__code__") else None


@pytest.mark.parametrize("call, error, match", CASES, ids=_case_id)
def test_bad_input_is_refused_with_a_clear_error(f, call, error, match):
    with pytest.raises(error, match=match):
        call(f)


@pytest.mark.parametrize("tile, n", [("16", 16), ("16x32", 8), ("16,32", 8), (" 16 X 32 ", 8), ("16\u00d732", 8)])
def test_tile_strings_are_parsed_not_cut_into_characters(f, tile, n):
    assert load_sprites(f.sheet, tile=tile).shape == (n, 3, 32, 32)


def test_good_inputs_that_used_to_be_refused_or_mangled_work(f):
    assert load_sprites(f.sheet, max_pixels=64 * 64).shape == (1, 3, 32, 32)  # exactly at the limit
    assert load_sprites(f.sheet, size=np.int64(16), tile=np.int64(32)).shape == (4, 3, 16, 16)
    assert make_sprites(np.int64(3)).images.shape == (3, 3, 32, 32)
    frames = np.stack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)])
    gif = write_gif(frames, f.dir / "array.gif")  # an array of frames, not a list
    assert read_gif(gif).shape == (2, 4, 4, 3)
    assert render_song(song, audio.numpy(), SR).shape[0] > 0  # NumPy note audio
    assert len(read_midi(f.midi, max_notes=np.int64(2))) == 2
