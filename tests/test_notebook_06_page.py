"""Chapter 6's page and library agree: the notebook's `oscillator_bank` is the library's `harmonic_synth`."""

import numpy as np
import torch
from notebook_page import page_definitions

from musicgan_lib.kernels.harmonic_synth import harmonic_synth


def test_the_oscillator_bank_on_the_page_is_the_library_synth():
    bank = page_definitions("06", "def oscillator_bank(", {"torch": torch, "np": np})["oscillator_bank"]
    g = torch.Generator().manual_seed(0)
    sr, n, h = 16000, 8000, 40
    t = torch.arange(n) / sr
    f0 = 300.0 * 2 ** (torch.sin(2 * np.pi * 3 * t) / 6) + 100 * t  # vibrato and a glide, up to ~400 Hz
    amp = 0.5 + 0.5 * torch.rand(n, generator=g)
    dist = torch.rand(n, h, generator=g)
    dist = dist / dist.sum(-1, keepdim=True)
    page = bank(f0, amp, dist, sr)
    library = harmonic_synth(f0[None], amp[None], dist[None], sr)[0]
    assert page.shape == (n,) and torch.allclose(page, library, atol=1e-4)
    # harmonics at or above Nyquist are silent on both: a 3 kHz note keeps only 2 of 40
    high = torch.full((n,), 3000.0)
    only_two = dist.clone()
    only_two[:, :2] = 0.0
    assert bank(high, amp, only_two, sr).abs().max() < 1e-6
    assert torch.allclose(
        bank(high, amp, dist, sr), harmonic_synth(high[None], amp[None], dist[None], sr)[0], atol=1e-4
    )
