"""Chapter 8's page and library agree: the notebook's `anchor_lines` is the generator's `anchor_coordinates`,
its `note_clock` is `clock_onsets`, and its `frames_to_sound` is the harmonic half of the song autoencoder's
`decode`."""

import numpy as np
import torch
from notebook_page import page_definitions

from musicgan_lib.kernels.harmonic_synth import harmonic_synth, normalize_harmonic_distribution
from musicgan_lib.models.ddsp_synth import ddsp_scale, frames_to_samples
from musicgan_lib.models.song_autoencoder import SongAutoencoder, SongEncoding, fill_unvoiced
from musicgan_lib.models.song_gan import anchor_coordinates, clock_onsets

SR, HOP = 16000, 320


def page(name: str):
    return page_definitions("08", f"def {name}(", {"torch": torch, "np": np})[name]


def test_anchor_lines_on_the_page_equal_the_library():
    anchor_lines = page("anchor_lines")
    anchors = torch.randn(1, 7, 5, generator=torch.Generator().manual_seed(0))
    for gap in (1, 4, 25):
        assert torch.allclose(anchor_lines(anchors[0], gap), anchor_coordinates(anchors, gap)[0].T, atol=1e-5)
    mid = anchor_lines(anchors[0], 4)[2]  # halfway from anchor 0 to anchor 1
    assert torch.allclose(mid, (anchors[0, 0] + anchors[0, 1]) / 2)


def test_note_clock_on_the_page_equals_the_library():
    note_clock = page("note_clock")
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(6, 300, generator=g)  # rates from one note per 200 frames to one per 6
    phases = torch.rand(6, generator=g)
    library = clock_onsets(logits, phases, shortest=6, longest=200)
    rates = (1 / 200) * (200 / 6) ** torch.sigmoid(logits)  # the library's rate for each logit
    for row in range(6):
        on_page = note_clock(rates[row], float(phases[row]))
        assert torch.equal(on_page, library[row].detach()), row
        assert on_page.sum() >= 1  # 300 frames at one note per 200 at the slowest
    assert note_clock(torch.full((10,), 0.25), 0.0).tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]


def test_frames_to_sound_on_the_page_is_the_library_upsampling_and_synth():
    frames_to_sound = page("frames_to_sound")
    g = torch.Generator().manual_seed(0)
    n_frames, n_harmonics = 25, 30
    # a melody that jumps by semitones and climbs high enough for its top harmonics to cross Nyquist
    f0 = 220.0 * 2 ** (torch.randint(0, 24, (n_frames,), generator=g) / 12) + torch.linspace(0, 300, n_frames)
    amplitude = torch.rand(n_frames, generator=g)
    distribution = torch.rand(n_frames, n_harmonics, generator=g)
    distribution = distribution / distribution.sum(-1, keepdim=True)
    on_page = frames_to_sound(f0, amplitude, distribution, HOP, SR)
    library = harmonic_synth(
        frames_to_samples(f0[None], HOP), frames_to_samples(amplitude[None], HOP),
        frames_to_samples(distribution[None], HOP), SR,
    )[0]  # fmt: skip
    assert on_page.shape == (n_frames * HOP,)
    assert torch.allclose(on_page, library, atol=1e-4), float((on_page - library).abs().max())


def test_frames_to_sound_plus_the_noise_is_the_autoencoder_decode():
    """The notebook's claim: the page's harmonic half plus the library's filtered noise is `decode`."""
    frames_to_sound = page("frames_to_sound")
    torch.manual_seed(0)
    ae = SongAutoencoder(hidden=16, n_harmonics=24, n_noise_bands=17, latent_dim=3).eval()
    g = torch.Generator().manual_seed(1)
    n_frames = 20
    f0 = 150.0 + 400.0 * torch.rand(1, n_frames, generator=g)
    f0[:, 5:8] = 0.0  # a rest: decode holds the last pitch
    enc = SongEncoding(f0, -60 + 50 * torch.rand(1, n_frames, generator=g), torch.randn(1, n_frames, 3, generator=g))
    with torch.no_grad():
        decoded = ae.decode(enc)[0]
        held = fill_unvoiced(enc.f0_hz)
        amp_logit, harmonic_logits, noise_logits = ae.decoder(held, enc.loudness_db, enc.z)
        distribution = normalize_harmonic_distribution(ddsp_scale(harmonic_logits), held, SR)
        harmonic_half = frames_to_sound(held[0], ddsp_scale(amp_logit)[0], distribution[0], ae.hop, SR)
        noise_half = ae.noise(ddsp_scale(noise_logits - 5.0), len(harmonic_half), torch.Generator().manual_seed(0))[0]
    assert harmonic_half.abs().max() > 1e-3 and noise_half.abs().max() > 0  # both halves sound
    assert torch.allclose(harmonic_half + noise_half, decoded, atol=1e-5)
