"""Chapter 7's page and library agree: the notebook's `critic_score` is `LatentCritic.score`, and its
`generate_note` is `models.latent_gan.generate_notes` (same noise, same decoder)."""

import torch
from notebook_page import page_definitions

from musicgan_lib.models.ddsp_autoencoder import NoteAutoencoder
from musicgan_lib.models.latent_gan import LatentCritic, LatentGenerator, generate_notes


def page(marker: str):
    return page_definitions("07", marker, {"torch": torch})


def conditions(n: int = 6):
    g = torch.Generator().manual_seed(1)
    return torch.randint(48, 85, (n,), generator=g), torch.randint(0, 8, (n,), generator=g)


def test_the_page_critic_score_is_the_library_critic():
    critic_score = page("def critic_score(")["critic_score"]
    torch.manual_seed(0)
    critic = LatentCritic(16)
    pitch, family = conditions()
    x = torch.randn(len(pitch), 16)
    page_scores = critic_score(critic, x, pitch, family)
    assert page_scores.shape == (len(pitch), 1)
    assert torch.allclose(page_scores, critic.score(x, pitch, family), atol=1e-6)
    other_family = (family + 1) % 8  # the projection term makes the score depend on the condition
    assert not torch.allclose(critic_score(critic, x, pitch, other_family), page_scores, atol=1e-3)


def test_the_page_generated_note_is_the_library_note():
    generate_note = page("def generate_note(")["generate_note"]
    torch.manual_seed(0)
    gan = LatentGenerator(16, noise_dim=8, sheet_dim=1, sheet_branches=2)  # the chapter's: a piece and a place
    gan.set_latent_stats(torch.randn(16), torch.rand(16) + 0.5)  # a non-trivial standardisation to undo
    autoencoder = NoteAutoencoder(latent_dim=16, n_harmonics=32, hidden=32).eval()  # a small random one
    pitch, family = conditions(3)
    noise = torch.randn(3, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        audio = generate_note(gan, autoencoder, pitch, family, noise)
    library = generate_notes(gan, autoencoder, pitch, family, seed=4)
    assert audio.shape == library.shape == (3, autoencoder.n_samples)
    assert torch.allclose(audio, library, atol=1e-4)
    with torch.no_grad():
        octave_up = generate_note(gan, autoencoder, pitch + 12 - 12 * (pitch > 72), family, noise)
    assert not torch.allclose(octave_up, library, atol=1e-3)
