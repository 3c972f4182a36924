"""The synthesizer half of a DDSP decoder, shared by the note (chapter 6) and song (chapter 8) models.

A decoder network writes per-frame *controls*; these turn them into sound: DDSP's scaling of
raw network outputs, frame-to-sample interpolation, and noise filtered per frame by band
magnitudes. The harmonic oscillator bank itself is `kernels.harmonic_synth`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def ddsp_scale(x: Tensor, exponent: float = 10.0, max_value: float = 2.0, threshold: float = 1e-7) -> Tensor:
    """DDSP's exp_sigmoid: ``max_value · sigmoid(x)^ln(exponent) + threshold``.

    x [*S] (any shape, logits) -> [*S] in (threshold, max_value + threshold).

    Positive, bounded, and logarithmic-ish over a wide range (so quiet harmonics are easy to
    reach), with a floor that keeps logs and divisions finite.
    """
    return max_value * torch.sigmoid(x) ** math.log(exponent) + threshold


def frames_to_samples(x: Tensor, hop: int) -> Tensor:
    """[B, F] or [B, F, C] frame controls to audio rate [B, F*hop(, C)]: frame i sits at sample i*hop,
    linear in between, the last frame held -- exactly `audio.synth.upsample_frames` (the data's
    rule), written as one broadcast so its backward is a cheap sum (3x faster than interpolate)."""
    squeeze = x.dim() == 2
    if squeeze:
        x = x.unsqueeze(-1)
    b, n_frames, c = x.shape
    nxt = torch.cat([x[:, 1:], x[:, -1:]], dim=1)
    alpha = torch.arange(hop, device=x.device, dtype=x.dtype) / hop
    out = (x.unsqueeze(2) + alpha[None, None, :, None] * (nxt - x).unsqueeze(2)).reshape(b, n_frames * hop, c)
    return out[..., 0] if squeeze else out


class FilteredNoise(nn.Module):
    """Noise shaped per frame by band magnitudes (frequency sampling in the STFT domain).

    magnitudes [B, F, N] (N bands from 0 Hz to Nyquist, interpolated to the FFT's bins) ->
    audio [B, n_samples]: white complex noise per STFT bin times the magnitude, inverted.
    `noise_fft` must be at least `hop` (the inverse STFT needs overlapping frames).
    """

    def __init__(self, noise_fft: int, hop: int) -> None:
        super().__init__()
        if noise_fft < hop:
            raise ValueError(f"noise_fft ({noise_fft}) must be at least the hop ({hop})")
        self.noise_fft, self.hop = noise_fft, hop
        self.register_buffer("window", torch.hann_window(noise_fft), persistent=False)

    def forward(self, magnitudes: Tensor, n_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """magnitudes [B, F, N] (frame rate, N bands) -> noise audio [B, T] with T = n_samples."""
        b, n_frames, _ = magnitudes.shape
        n_bins = self.noise_fft // 2 + 1
        n_stft = n_samples // self.hop + 1
        mags = F.interpolate(magnitudes, size=n_bins, mode="linear", align_corners=True)  # [B, F, bins]
        if n_stft > n_frames:
            mags = torch.cat([mags, mags[:, -1:].expand(-1, n_stft - n_frames, -1)], dim=1)
        mags = mags[:, :n_stft].transpose(1, 2)  # [B, bins, frames]
        shape = (b, n_bins, n_stft, 2)
        if generator is not None:
            white = torch.randn(shape, generator=generator).to(mags.device, mags.dtype)
        else:
            white = torch.randn(shape, device=mags.device, dtype=mags.dtype)
        spec = torch.complex(white[..., 0], white[..., 1]) * mags
        window = self.window.to(mags.dtype)
        return torch.istft(spec, self.noise_fft, self.hop, window=window, center=True, length=n_samples)
