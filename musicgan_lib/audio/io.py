"""WAV input and output with soundfile, and checks that turn bad audio into clear messages.

`read_wav` refuses what it cannot repair (not a WAV, truncated, empty, NaN/Inf samples,
float samples beyond +-1) with an AudioFileError that names the file and the problem, and
repairs what it can while saying so in an AudioInputWarning: stereo is mixed down to mono,
another sample rate is resampled with torchaudio, 8- and 24-bit PCM are converted to float
(8-bit with a note about its coarse resolution). strict=True turns every repair into an error.
A downmix whose channels cancel (anti-phase stereo) says so; `channel=` reads one channel instead.
Bad arguments (a sample rate that is not a positive whole number of Hz, audio in the wrong
layout or dtype) raise a TypeError or ValueError that names the argument and what is expected.
"""

from __future__ import annotations

import math
import numbers
import os
import struct
import warnings
from pathlib import Path

import numpy as np
import torch

from ..checks import require_sample_rate

__all__ = ["AudioFileError", "AudioInputWarning", "read_wav", "write_wav", "wav_info"]


class AudioFileError(ValueError):
    """An audio file that cannot be used as it is; the message names the file and the problem."""


class AudioInputWarning(UserWarning):
    """An audio file was usable after a repair (downmix, resampling, bit depth); the message says which."""


_MAX_CHANNELS = 16  # write_wav: more rows than this is surely [samples, channels] or not audio
_CANCEL_RATIO = 0.1  # read_wav: a mono mix 20 dB below its loudest channel means the channels cancel
_PCM_HINT = " (integer PCM: divide by 32768 for 16-bit, e.g. audio / 32768)"
_BIT_DEPTH = {"PCM_U8": 8, "PCM_S8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32, "FLOAT": 32, "DOUBLE": 64}


def _riff_chunks(path: Path, size: int) -> dict[str, tuple[int, int]]:
    """Walk the RIFF chunks: {id: (declared size, bytes actually present)}."""
    chunks: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as f:
        f.seek(12)
        pos = 12
        while pos + 8 <= size:
            head = f.read(8)
            if len(head) < 8:
                break
            cid = head[:4].decode("latin-1")
            (csize,) = struct.unpack("<I", head[4:])
            present = max(min(csize, size - pos - 8), 0)
            chunks.setdefault(cid, (csize, present))
            pos += 8 + csize + (csize & 1)
            f.seek(pos)
    return chunks


def wav_info(path: str | os.PathLike) -> dict:
    """Check that a file is a complete WAV and describe it (sample rate, channels, frames, format).

    Raises FileNotFoundError or AudioFileError (not a WAV, empty, truncated, unreadable).
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such audio file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a folder, not a WAV file")
    size = p.stat().st_size
    if size == 0:
        raise AudioFileError(f"{p}: the file is empty (0 bytes), not a WAV recording")
    with open(p, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64", b"RIFX") or head[8:12] != b"WAVE":
        raise AudioFileError(
            f"{p}: not a WAV file (it starts with {head[:12]!r}, a WAV starts with b'RIFF....WAVE'); "
            "convert it first, e.g. `ffmpeg -i input.mp3 -ar 16000 output.wav`"
        )
    if head[:4] == b"RIFF":
        chunks = _riff_chunks(p, size)
        if "fmt " not in chunks:
            raise AudioFileError(f"{p}: truncated or damaged WAV: no 'fmt ' chunk describing the samples")
        if "data" not in chunks:
            raise AudioFileError(
                f"{p}: truncated WAV: the header is there but the 'data' chunk with the samples is missing"
            )
        declared, present = chunks["data"]
        if present < declared and declared != 0xFFFFFFFF:  # all ones: a streaming writer never filled it in
            raise AudioFileError(
                f"{p}: truncated WAV: the header declares {declared} bytes of samples but only {present} "
                "are in the file (an interrupted download or copy?)"
            )
    try:
        info = sf.info(str(p))
    except Exception as exc:  # libsndfile's own words are the best description here
        raise AudioFileError(f"{p}: unreadable WAV ({exc})") from exc
    return {
        "sr": int(info.samplerate),
        "channels": int(info.channels),
        "frames": int(info.frames),
        "subtype": info.subtype,
        "bits": _BIT_DEPTH.get(info.subtype),
        "seconds": info.frames / info.samplerate if info.samplerate else 0.0,
    }


def _notice(msg: str, strict: bool) -> None:
    if strict:
        raise AudioFileError(msg + " (strict=True: fix the file or call with strict=False)")
    warnings.warn(msg, AudioInputWarning, stacklevel=3)


def _nonfinite(x: np.ndarray) -> tuple[int, int] | None:
    """(how many NaN/Inf values, the first one's index along axis 0), or None when all are finite."""
    bad = ~np.isfinite(x)
    return (int(bad.sum()), int(np.argwhere(bad)[0][0])) if bad.any() else None


def read_wav(
    path: str | os.PathLike,
    sr: int | None = 16000,
    *,
    mono: bool = True,
    strict: bool = False,
    on_clip: str = "error",
    channel: int | None = None,
) -> tuple[torch.Tensor, int]:
    """Read a WAV file as float32 in [-1, 1]: ([samples] if mono else [channels, samples], sample rate).

    sr: the sample rate wanted, a positive whole number of Hz (None keeps the file's); other
    rates are resampled, with a warning. on_clip: what to do with float samples beyond +-1:
    "error", "clip" or "normalize". channel: read only this channel (0 = left) instead of
    mixing all down, e.g. when the channels are out of phase and cancel in the mix; the result
    is then [samples] (or [1, samples] with mono=False).
    """
    import soundfile as sf

    if on_clip not in ("error", "clip", "normalize"):
        raise ValueError(f"on_clip must be 'error', 'clip' or 'normalize', got {on_clip!r}")
    if sr is not None:
        sr = require_sample_rate(sr, integer=True)
    if channel is not None and (isinstance(channel, bool) or not isinstance(channel, numbers.Integral)):
        raise TypeError(f"channel must be a channel index (0 = left) or None, got {channel!r}")
    p = Path(path)
    info = wav_info(p)
    if info["frames"] == 0:
        raise AudioFileError(f"{p}: the WAV holds no samples (zero length)")
    if channel is not None and not 0 <= channel < info["channels"]:
        raise ValueError(f"channel={channel} but {p} has {info['channels']} channel(s): use 0..{info['channels'] - 1}")
    try:
        data, file_sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioFileError(f"{p}: unreadable WAV ({exc})") from exc
    if data.shape[0] == 0:
        raise AudioFileError(f"{p}: the WAV holds no samples (zero length)")
    bad = _nonfinite(data)
    if bad:
        count, first = bad
        raise AudioFileError(
            f"{p}: {count} NaN/Inf samples (the first at sample {first}, {first / file_sr:.3f} s); "
            "the file is corrupt or was written from a diverged model"
        )
    bits = info["bits"]
    if bits == 8:
        _notice(f"{p}: 8-bit PCM has only 256 levels (noise floor about -48 dB); converted to float32", strict)
    elif bits == 24:
        _notice(f"{p}: 24-bit PCM converted to float32", strict)
    peak = float(np.abs(data).max())
    if peak > 1.0:
        over = int((np.abs(data) > 1.0).sum())
        if on_clip == "error":
            raise AudioFileError(
                f"{p}: {over} samples exceed +-1 (peak {peak:.3g}); float WAV beyond full scale would clip on "
                "playback. Read with on_clip='normalize' (scale to peak 1) or on_clip='clip'"
            )
        if on_clip == "normalize":
            data = data / peak
        else:
            data = np.clip(data, -1.0, 1.0)
        done = "scaled to peak 1" if on_clip == "normalize" else "clipped to +-1"
        _notice(f"{p}: {over} samples beyond +-1 (peak {peak:.3g}); {done}", strict=False)
    audio = torch.from_numpy(np.ascontiguousarray(data.T))  # [channels, samples]
    if channel is not None:
        audio = audio[channel : channel + 1]
    elif mono and audio.shape[0] > 1:
        _notice(_downmix_message(p, data), strict)
        audio = audio.mean(dim=0, keepdim=True)
    if sr is not None and file_sr != sr:
        _notice(f"{p}: sample rate {file_sr} Hz resampled to {sr} Hz", strict)
        import torchaudio.functional as AF

        audio = AF.resample(audio, file_sr, sr)
        file_sr = sr
    return (audio[0] if mono else audio), int(file_sr)


def _downmix_message(p: Path, data: np.ndarray) -> str:
    """The notice for mixing data [samples, channels] down to mono; it says so when the channels cancel."""
    n = data.shape[1]
    msg = f"{p}: {n} channels{' (stereo)' if n == 2 else ''} mixed down to mono"
    loudest = float(np.sqrt(np.mean(np.square(data, dtype=np.float64), axis=0)).max())
    mix = float(np.sqrt(np.mean(np.square(data.mean(axis=1, dtype=np.float64)))))
    if loudest > 1e-4 and mix < _CANCEL_RATIO * loudest:
        db = 20 * math.log10(max(mix / loudest, 1e-6))
        msg += (
            f", but the channels cancel: they are out of phase (anti-phase), so the mono mix is near silence "
            f"({db:.0f} dB below the loudest channel). Read one channel with channel=0 (or mono=False for all)"
        )
    return msg


def write_wav(path: str | os.PathLike, audio, sr: int, *, subtype: str = "PCM_16") -> Path:
    """Write [samples] or [channels, samples] audio in [-1, 1] to a WAV file, atomically.

    NaN/Inf or samples beyond +-1 are refused (they would be silently wrapped or clipped):
    scale the audio first, e.g. audio / audio.abs().max(). Float samples only (integer PCM:
    divide by 32768 first); at most 16 channels, so [samples, channels] data is caught (pass
    audio.T). sr is a positive whole number of Hz; subtype one of soundfile's WAV subtypes.
    """
    import soundfile as sf

    p = Path(path)
    sr = require_sample_rate(sr, integer=True)
    if not isinstance(subtype, str) or not sf.check_format("WAV", subtype):
        raise ValueError(f"subtype must be one of {sorted(sf.available_subtypes('WAV'))} for a WAV, got {subtype!r}")
    if isinstance(audio, torch.Tensor):
        if audio.is_complex() or not audio.is_floating_point():
            raise TypeError(f"audio must hold float samples in [-1, 1], got dtype {audio.dtype}{_PCM_HINT}")
        x = audio.detach().cpu().float().numpy()
    else:
        if isinstance(audio, np.ndarray) and audio.dtype.kind != "f":
            raise TypeError(f"audio must hold float samples in [-1, 1], got dtype {audio.dtype}{_PCM_HINT}")
        try:
            x = np.asarray(audio, np.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"audio must be a tensor or array of float samples, got {type(audio).__name__}") from e
    if x.size == 0:
        raise ValueError(f"refusing to write {p}: the audio is empty (shape {x.shape})")
    if x.ndim == 2:
        if x.shape[0] > x.shape[1] or x.shape[0] > _MAX_CHANNELS:
            raise ValueError(
                f"refusing to write {p}: audio has shape {x.shape}, which looks like [samples, channels]; write_wav "
                f"wants [samples] or [channels, samples] with at most {_MAX_CHANNELS} channels (e.g. [2, N] for "
                "stereo): pass audio.T"
            )
        x = x.T  # soundfile wants [frames, channels]
    elif x.ndim != 1:
        raise ValueError(f"audio must be [samples] or [channels, samples], got shape {x.shape}")
    bad = _nonfinite(x)
    if bad:
        raise ValueError(
            f"refusing to write {p}: the audio has {bad[0]} NaN/Inf samples (the first at sample {bad[1]}); "
            "samples must be finite (a diverged model?)"
        )
    peak = float(np.abs(x).max())
    if peak > 1.0 + 1e-6:
        raise ValueError(f"refusing to write {p}: peak {peak:.3g} exceeds full scale 1; scale the audio first")
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.stem}.tmp-{os.getpid()}.wav")
    try:
        sf.write(str(tmp), np.clip(x, -1.0, 1.0), sr, subtype=subtype, format="WAV")
        os.replace(tmp, p)
    finally:
        if tmp.exists():
            tmp.unlink()
    return p
