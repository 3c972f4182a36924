"""WAV input/output: every kind of bad audio gets a clear message naming the file and the problem."""

import math
import struct

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgan_lib.audio.io import AudioFileError, AudioInputWarning, read_wav, wav_info, write_wav

SR = 16000


def tone(n=SR, freq=440.0, sr=SR, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / sr)).astype(np.float32)


def test_roundtrip(tmp_path):
    x = tone()
    path = write_wav(tmp_path / "a.wav", torch.from_numpy(x), SR)
    y, sr = read_wav(path)
    assert sr == SR and y.dtype == torch.float32 and y.shape == (SR,)
    assert np.abs(y.numpy() - x).max() < 1e-4  # 16-bit quantisation
    info = wav_info(path)
    assert info["bits"] == 16 and info["channels"] == 1 and info["frames"] == SR


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        read_wav(tmp_path / "nope.wav")


def test_not_a_wav(tmp_path):
    path = tmp_path / "song.wav"
    path.write_bytes(b"ID3\x03\x00\x00\x00 this is really an mp3 " * 10)
    with pytest.raises(AudioFileError, match=r"song\.wav.*not a WAV file"):
        read_wav(path)
    folder = tmp_path / "dir.wav"
    folder.mkdir()
    with pytest.raises(AudioFileError, match="folder"):
        read_wav(folder)


def test_zero_length(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.wav.*empty \(0 bytes\)"):
        read_wav(empty)
    no_samples = tmp_path / "nosamples.wav"
    sf.write(no_samples, np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    with pytest.raises(AudioFileError, match=r"nosamples\.wav.*zero length"):
        read_wav(no_samples)


def test_truncated(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(good.read_bytes()[:20000])
    with pytest.raises(AudioFileError, match=r"cut\.wav.*truncated.*declares 32000 bytes"):
        read_wav(cut)
    header_only = tmp_path / "header.wav"
    header_only.write_bytes(good.read_bytes()[:36])  # RIFF + fmt, no data chunk
    with pytest.raises(AudioFileError, match=r"header\.wav.*truncated"):
        read_wav(header_only)


def test_nan_and_inf_samples(tmp_path):
    x = tone()
    x[1234] = np.nan
    x[5000] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"nan\.wav.*2 NaN/Inf samples.*sample 1234"):
        read_wav(path)


@pytest.mark.parametrize("subtype, bits, tol", [("PCM_U8", 8, 1e-2), ("PCM_24", 24, 1e-6)])
def test_8_and_24_bit_are_converted_with_a_notice(tmp_path, subtype, bits, tol):
    x = tone()
    path = tmp_path / f"b{bits}.wav"
    sf.write(path, x, SR, subtype=subtype)
    with pytest.warns(AudioInputWarning, match=rf"b{bits}\.wav.*{bits}-bit PCM"):
        y, _ = read_wav(path)
    assert np.abs(y.numpy() - x).max() < tol  # scaled to [-1, 1] correctly, not raw integers
    with pytest.raises(AudioFileError, match=f"{bits}-bit"):
        read_wav(path, strict=True)


def test_stereo_is_mixed_down_and_said_so(tmp_path):
    left, right = tone(freq=300.0), tone(freq=500.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    with pytest.warns(AudioInputWarning, match=r"stereo\.wav.*2 channels.*mixed down to mono"):
        y, _ = read_wav(path)
    assert y.shape == (SR,)
    assert np.allclose(y.numpy(), (left + right) / 2, atol=1e-6)
    both, _ = read_wav(path, mono=False)
    assert both.shape == (2, SR)
    with pytest.raises(AudioFileError, match="stereo"):
        read_wav(path, strict=True)


def test_wrong_sample_rate_is_resampled_and_said_so(tmp_path):
    path = tmp_path / "cd.wav"
    sf.write(path, tone(n=44100, freq=1000.0, sr=44100), 44100, subtype="PCM_16")
    with pytest.warns(AudioInputWarning, match=r"cd\.wav.*44100 Hz resampled to 16000 Hz"):
        y, sr = read_wav(path, sr=SR)
    assert sr == SR and abs(len(y) - SR) <= 1
    spec = np.abs(np.fft.rfft(y.numpy() * np.hanning(len(y))))
    assert abs(np.argmax(spec) * SR / len(y) - 1000.0) < 2.0  # still a 1 kHz tone
    keep, sr_keep = read_wav(path, sr=None)
    assert sr_keep == 44100 and len(keep) == 44100


def test_clipping_beyond_full_scale(tmp_path):
    x = tone(amp=1.7)
    path = tmp_path / "loud.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"loud\.wav.*exceed \+-1.*peak 1\.7"):
        read_wav(path)
    with pytest.warns(AudioInputWarning, match="scaled to peak 1"):
        y, _ = read_wav(path, on_clip="normalize")
    assert float(y.abs().max()) == pytest.approx(1.0, abs=1e-6)
    with pytest.warns(AudioInputWarning, match=r"clipped to \+-1"):
        z, _ = read_wav(path, on_clip="clip")
    assert float(z.abs().max()) <= 1.0
    with pytest.raises(ValueError):
        read_wav(path, on_clip="ignore")


def test_write_refuses_bad_audio(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "x.wav", torch.tensor([0.0, float("nan")]), SR)
    with pytest.raises(ValueError, match="peak"):
        write_wav(tmp_path / "x.wav", torch.tensor([0.0, 1.5]), SR)
    with pytest.raises(ValueError, match="empty"):
        write_wav(tmp_path / "x.wav", torch.zeros(0), SR)
    assert not (tmp_path / "x.wav").exists()
    stereo = write_wav(tmp_path / "s.wav", torch.zeros(2, 100), SR, subtype="FLOAT")
    assert sf.info(stereo).channels == 2


def test_unset_riff_size_is_accepted(tmp_path):
    """A WAV whose RIFF size field is wrong but whose data is complete still reads."""
    path = tmp_path / "a.wav"
    sf.write(path, tone(), SR, subtype="PCM_16")
    raw = bytearray(path.read_bytes())
    raw[4:8] = struct.pack("<I", 0xFFFFFFFF)  # some writers leave the RIFF size unset when streaming
    path.write_bytes(bytes(raw))
    y, _ = read_wav(path)
    assert math.isclose(float(y.abs().max()), 0.5, abs_tol=1e-3)
