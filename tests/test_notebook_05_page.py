"""Chapter 5's page and library agree: the notebook's `oscillator_bank` is the library's `additive` / `harmonic`."""

import numpy as np
import torch
from notebook_page import page_definitions

from musicgan_lib.audio import additive, harmonic

SR = 16000


def page_bank():
    return page_definitions("05", "def oscillator_bank(", {"torch": torch, "np": np})["oscillator_bank"]


def test_the_oscillator_bank_on_the_page_is_the_library_additive_synth():
    bank = page_bank()
    g = torch.Generator().manual_seed(0)
    n, k = 4000, 6
    t = torch.arange(n) / SR
    # inharmonic partials (like the guitar's), with vibrato and glides; one glides across Nyquist
    start = torch.tensor([110.0, 233.5, 495.0, 1154.9, 3000.0, 7700.0])
    freqs = start[:, None] * (1 + 0.02 * torch.sin(2 * np.pi * 5 * t)) + torch.linspace(0, 1500, k)[:, None] * t
    amps = torch.rand(k, 1, generator=g) * torch.exp(-t * torch.rand(k, 1, generator=g) * 8) / k
    page = bank(freqs, amps, SR)
    library = additive(freqs, amps, SR)
    assert page.shape == (n,) and page.dtype == torch.float32
    assert torch.allclose(page, library, atol=1e-4), float((page - library).abs().max())
    # the top partial is silent from the sample it reaches Nyquist, on both
    above = freqs[-1] >= SR / 2
    assert above.any() and not above.all()
    top_only = torch.zeros_like(amps).expand(k, n).clone()
    top_only[-1] = 1.0
    assert bank(freqs, top_only, SR)[above].abs().max() == 0
    assert bank(freqs, top_only, SR)[~above].abs().max() > 0.9


def test_the_chapter_pluck_on_the_page_is_the_library_harmonic_tone():
    bank = page_bank()
    n = 8000
    t = torch.arange(n) / SR
    k = torch.arange(1, 41, dtype=torch.float32)
    amps = (1.0 / k**1.5)[:, None] * torch.exp(-t[None, :] * (2.0 + 0.4 * k[:, None]))  # the notebook's pluck
    for f0 in (196.0, 440.0):  # at 440 Hz harmonics 19..40 lie above Nyquist
        page = bank((f0 * k)[:, None].expand(-1, n), amps, SR)
        library = harmonic(torch.full((n,), f0), amps, SR)
        assert torch.allclose(page, library, atol=1e-4), (f0, float((page - library).abs().max()))
