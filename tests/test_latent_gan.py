"""Chapter 7's latent GAN: conditional shapes, training steps, the Gaussian baseline, the evaluator
with its floors, songs from generated notes, and the weights round trip.

Everything here runs against small stand-ins for chapter 6's autoencoder and classifier (the
same interface, a fraction of the cost), so the tests do not depend on the shipped weights;
one test checks the shipped files against each other when they are present.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import math
from dataclasses import replace
from typing import NamedTuple

import pytest
import torch
from torch import nn

from musicgan_lib.audio.synth import hz_to_midi
from musicgan_lib.metrics.latent_eval import Evaluator, gaussian_fd
from musicgan_lib.models.latent_gan import (
    GaussianBaseline,
    LatentCritic,
    LatentGenerator,
    conditional_samplers,
    generate_song,
    interpolate,
    pack_conditions,
    pitch_height,
    slerp,
    straight_through_one_hot,
    timbre_morph,
)
from musicgan_lib.data.note_sets import NoteData
from musicgan_lib.data.notes import FAMILIES
from musicgan_lib.data.soundfont import DEFAULT_PROGRAMS, find_soundfont, soundfont_labels
from musicgan_lib.models.note_latents import LatentSet, decode_latents, load_chapter_data, training_instruments
from musicgan_lib.recipes import latent_gan as ch7
from musicgan_lib.songs import tune
from musicgan_lib.weights import MissingWeightsError

SR = 16000


class Encoding(NamedTuple):
    f0_hz: torch.Tensor
    z: torch.Tensor
    loudness_db: torch.Tensor


class StandInAutoencoder(nn.Module):
    """The chapter-6 contract on a budget: z = a fixed projection of log band energies plus the
    note's loudness; the decoder plays 4 harmonics of f0 whose levels and decay come from z."""

    def __init__(self, latent_dim: int = 6, n_samples: int = 2048) -> None:
        super().__init__()
        self.latent_dim, self.sample_rate, self.frame_rate, self.n_samples = latent_dim, SR, 250, n_samples
        g = torch.Generator().manual_seed(0)
        self.proj = nn.Linear(16, latent_dim)
        self.out = nn.Linear(latent_dim, 5)
        with torch.no_grad():
            self.proj.weight.copy_(torch.randn(latent_dim, 16, generator=g) / 4)
            self.out.weight.copy_(torch.randn(5, latent_dim, generator=g) / 2)
        self.eval().requires_grad_(False)

    def _bands(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft(audio).abs()
        return torch.log(torch.stack([b.mean(1) for b in spec.chunk(16, dim=1)], dim=1) + 1e-4)

    def encode(self, audio: torch.Tensor) -> Encoding:
        frames = audio.shape[1] // 64
        f0 = torch.full((audio.shape[0], frames), 261.6)
        loud = 20 * torch.log10(audio.abs().mean(1, keepdim=True) + 1e-6).expand(-1, frames)
        return Encoding(f0, self.proj(self._bands(audio)), loud)

    def decode(self, z: torch.Tensor, f0_hz: torch.Tensor) -> torch.Tensor:
        n = f0_hz.shape[1] * 64
        t = torch.arange(n) / SR
        p = self.out(z)
        levels = torch.softmax(p[:, :4], dim=1) * torch.tensor([1.0, 0.5, 0.5, 0.5]) + torch.tensor([1.0, 0, 0, 0])
        decay = 2 + 4 * torch.sigmoid(p[:, 4:5])
        phase = 2 * math.pi * f0_hz[:, :1] * t
        audio = sum(levels[:, k : k + 1] * torch.sin((k + 1) * phase) for k in range(4))
        return 0.5 * audio * torch.exp(-decay * t)


class StandInClassifier(nn.Module):
    """features = log band energies (16-d); pitch from the strongest spectral peak; family from a fixed projection."""

    def __init__(self) -> None:
        super().__init__()
        self.fam = nn.Linear(16, 8)
        self.eval().requires_grad_(False)

    def features(self, audio: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.rfft(audio).abs()
        return torch.log(torch.stack([b.mean(1) for b in spec.chunk(16, dim=1)], dim=1) + 1e-4)

    def predict(self, audio: torch.Tensor, batch_size: int = 256):
        spec = torch.fft.rfft(audio, n=16384).abs()  # zero-padded: 1 Hz bins
        freqs = torch.fft.rfftfreq(16384, 1 / SR)
        lo = int(torch.searchsorted(freqs, torch.tensor(120.0)))
        peak = freqs[lo + spec[:, lo:].argmax(1)]
        pitch = hz_to_midi(peak).round().clamp(48, 84).long() - 48
        return torch.nn.functional.one_hot(pitch, 37).float(), self.fam(self.features(audio))


CONFIG = replace(
    ch7.LatentGANConfig(),
    n_train=300,
    n_eval=100,
    ndb_k=10,
    hidden=64,
    layers=2,
    batch_size=32,
    steps=6,
    live_steps=3,
    noise_dim=8,
    embed_dim=4,
    sheet_steps=40,
)


@pytest.fixture(scope="module")
def autoencoder():
    return StandInAutoencoder()


@pytest.fixture(scope="module")
def data(autoencoder, tmp_path_factory):
    torch.set_num_threads(1)
    return load_chapter_data(autoencoder, CONFIG, cache_dir=tmp_path_factory.mktemp("cache"), verbose=False)


@pytest.fixture(scope="module")
def trained(data):
    return ch7.train_latent_gan(data, CONFIG, steps=6, seed=0, track_every=3, quiet=True)


def test_conditional_generator_and_critic_shapes():
    g = LatentGenerator(latent_dim=12, noise_dim=8, hidden=32, layers=2, embed_dim=4)
    d = LatentCritic(latent_dim=12, hidden=32, layers=2, embed_dim=4)
    pitch = torch.tensor([48, 60, 84, 70])
    family = torch.tensor([0, 3, 7, 5])
    z = g.generate(torch.randn(4, 8), pitch, family)
    assert z.shape == (4, 12)
    packed = g(pack_conditions(torch.randn(4, 8), pitch, family))
    assert packed.shape == (4, 14)
    assert packed[:, -2:].tolist() == [[48.0, 0.0], [60.0, 3.0], [84.0, 7.0], [70.0, 5.0]]
    assert d(packed).shape == (4, 1)
    # a soft family mix is accepted (timbre morphs) and equals the one-hot at the ends
    soft = torch.nn.functional.one_hot(family, 8).float()
    noise = torch.randn(4, 8)
    assert torch.allclose(g.generate(noise, pitch, soft), g.generate(noise, pitch, family))
    with pytest.raises(ValueError, match="MIDI range"):
        g.generate(torch.randn(1, 8), torch.tensor([40]), torch.tensor([0]))
    with pytest.raises(ValueError, match="family"):
        g.generate(torch.randn(1, 8), torch.tensor([60]), torch.tensor([8]))


def test_condition_changes_the_output_and_stats_round_trip():
    torch.manual_seed(0)
    g = LatentGenerator(latent_dim=6, noise_dim=8, hidden=32, layers=2, embed_dim=4)
    noise = torch.randn(1, 8)
    a = g.generate(noise, torch.tensor([60]), torch.tensor([0]))
    assert not torch.allclose(a, g.generate(noise, torch.tensor([61]), torch.tensor([0])))
    assert not torch.allclose(a, g.generate(noise, torch.tensor([60]), torch.tensor([1])))
    g.set_latent_stats(torch.arange(6.0), torch.full((6,), 2.0))
    z = torch.randn(5, 6)
    assert torch.allclose(g.from_autoencoder(g.to_autoencoder(z)), z, atol=1e-6)
    assert torch.allclose(g.to_autoencoder(torch.zeros(1, 6)), torch.arange(6.0).unsqueeze(0))
    # any affine map works the same way (x = (z - mean) @ whiten, z = x @ unwhiten + mean)
    rot = torch.linalg.qr(torch.randn(6, 6))[0]
    g.set_latent_transform(torch.ones(6), rot, rot.T)
    assert torch.allclose(g.from_autoencoder(g.to_autoencoder(z)), z, atol=1e-5)


def test_critic_gradient_lives_in_the_latent_only():
    d = LatentCritic(latent_dim=6, hidden=32, layers=2, embed_dim=4)
    x = pack_conditions(torch.randn(3, 6), torch.tensor([50, 60, 70]), torch.tensor([1, 2, 3])).requires_grad_(True)
    (grad,) = torch.autograd.grad(d(x).sum(), x)
    assert grad[:, :6].abs().sum() > 0
    assert torch.all(grad[:, 6:] == 0)


def test_conditional_samplers_pair_fake_conditions_with_the_real_batch():
    z = torch.randn(50, 4)
    pitch = torch.randint(48, 85, (50,))
    family = torch.randint(0, 8, (50,))
    sample_real, sample_latent = conditional_samplers(z, pitch, family, noise_dim=3)
    rng = torch.Generator().manual_seed(0)
    real = sample_real(16, rng)
    fake_in = sample_latent(16, rng)
    assert real.shape == (16, 6) and fake_in.shape == (16, 5)
    assert torch.equal(real[:, -2:], fake_in[:, -2:])
    # rows are real (latent, pitch, family) triples
    row = real[0]
    idx = int((z - row[:4]).abs().sum(1).argmin())
    assert pitch[idx] == row[4] and family[idx] == row[5]
    # an unpaired call (the generator step) draws conditions from the data
    other = sample_latent(7, rng)
    assert other.shape == (7, 5)
    assert set(other[:, -1].long().tolist()) <= set(family.tolist())


def test_slerp_and_interpolate():
    a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    path = interpolate(a, b, 5, "slerp")
    assert torch.allclose(path[0], a, atol=1e-6) and torch.allclose(path[-1], b, atol=1e-6)
    mid = slerp(a.unsqueeze(0), b.unsqueeze(0), 0.5)[0]
    assert torch.allclose(mid, torch.tensor([math.sqrt(0.5), math.sqrt(2.0)]), atol=1e-5)  # on the great circle
    lin = interpolate(a, b, 3, "linear")
    assert torch.allclose(lin[1], torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError):
        interpolate(a, b, 1)
    with pytest.raises(ValueError):
        interpolate(a, b, 3, "cubic")


def test_chapter_data_sets_are_disjoint_and_cached(data, autoencoder, tmp_path):
    assert len(data.train) == 300 and len(data.reference) == 100 and len(data.held_out) == 100
    assert data.reference.audio.shape == (100, autoencoder.n_samples) and data.train.audio is None
    assert data.latent_dim == 6
    assert not torch.equal(data.reference.audio, data.held_out.audio)
    z = data.standardise(data.train.z)
    assert torch.allclose(z.mean(0), torch.zeros(6), atol=1e-4) and torch.allclose(z.std(0), torch.ones(6), atol=1e-4)
    # a second load reads the cache and gives identical latents
    cache = tmp_path / "c"
    first = load_chapter_data(autoencoder, CONFIG, cache_dir=cache, verbose=False)
    assert len(list(cache.glob("latents_*.safetensors"))) == 1
    again = load_chapter_data(autoencoder, CONFIG, cache_dir=cache, verbose=False)
    assert torch.equal(first.train.z, again.train.z) and torch.equal(first.held_out.z, again.held_out.z)
    # a damaged cache (NaN latents) is said and rebuilt, never trusted
    from safetensors.torch import load_file, save_file

    cached = next(cache.glob("latents_*.safetensors"))
    tensors = load_file(str(cached))
    next(v for v in tensors.values() if v.is_floating_point()).view(-1)[0] = float("nan")
    save_file(tensors, str(cached))
    with pytest.warns(UserWarning, match="ignoring the damaged latent cache .* holds NaN or inf"):
        rebuilt = load_chapter_data(autoencoder, CONFIG, cache_dir=cache, verbose=False)
    assert torch.equal(first.train.z, rebuilt.train.z)


def test_a_few_gan_steps_are_finite_and_move_the_generator(data, trained):
    assert trained.steps == 6 and len(trained.history["step"]) == 6
    for key in ("d_loss", "g_loss", "w_distance", "gp"):
        assert all(math.isfinite(v) for v in trained.history[key]), key
    assert trained.fd_steps == [3, 6] and all(math.isfinite(v) for v in trained.latent_fd)
    g = trained.generator
    z = g.sample(data.held_out.pitch[:10], data.held_out.family[:10], generator=torch.Generator().manual_seed(0))
    assert z.shape == (10, 6) and torch.isfinite(z).all()
    fresh, _ = ch7.build_models(6, CONFIG)
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), g.state_dict().values()))


def test_training_resumes_from_a_checkpoint_exactly(data, tmp_path):
    ckpt = tmp_path / "run.safetensors"
    straight = ch7.train_latent_gan(data, CONFIG, steps=4, seed=3, quiet=True)
    interrupted = ch7.make_trainer(data, CONFIG, 3, "cpu", checkpoint_path=ckpt, checkpoint_every=2, total_steps=4)
    with redirect_stdout(io.StringIO()):
        interrupted.run(2)  # a 4-step run stopped half-way (same learning-rate schedule)
    assert ckpt.exists()
    resumed = ch7.train_latent_gan(data, CONFIG, steps=4, seed=3, checkpoint_path=ckpt, checkpoint_every=2, quiet=True)
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)


def test_gaussian_baseline_recovers_a_linear_gaussian_model():
    g = torch.Generator().manual_seed(0)
    n, dim = 4000, 3
    pitch = torch.randint(48, 85, (n,), generator=g)
    family = torch.randint(0, 8, (n,), generator=g)
    a = torch.randn(8, dim, generator=g)
    b = torch.randn(8, dim, generator=g)
    cov = torch.tensor([[1.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.25]])
    noise = torch.randn(n, dim, generator=g) @ torch.linalg.cholesky(cov).T
    z = a[family] + pitch_height(pitch).unsqueeze(1) * b[family] + noise
    base = GaussianBaseline(z, pitch, family)
    assert torch.allclose(base.coef[:, 0].float(), a, atol=0.15)
    assert torch.allclose(base.cov.float(), cov, atol=0.08)
    s = base.sample(pitch, family, torch.Generator().manual_seed(1))
    assert s.shape == (n, dim)
    assert gaussian_fd(z, s) < 0.05
    assert gaussian_fd(z, s + 1.0) > 2.9  # a shift of 1 in 3 dims adds 3


def test_gaussian_fd_matches_the_closed_form():
    x = torch.randn(3000, 4, generator=torch.Generator().manual_seed(0))
    y = torch.randn(3000, 4, generator=torch.Generator().manual_seed(1)) * 2 + 1
    # N(0, I) vs N(1, 4I): |mu|^2 + tr(I + 4I - 2*2I) = 4 + 4
    assert gaussian_fd(x, y) == pytest.approx(8.0, rel=0.1)


@pytest.fixture(scope="module")
def evaluator(autoencoder, data):
    return Evaluator(autoencoder, StandInClassifier(), data, CONFIG, verbose=False)


def test_evaluator_floors_and_records(evaluator, trained):
    ev = evaluator
    assert set(ev.rows) == {"real", "reconstruction", "gaussian"}
    real = ev.rows["real"]
    recon = ev.rows["reconstruction"]
    # the reconstruction row uses the held-out latents themselves: nn ratio exactly 1
    assert recon.nn_ratio == pytest.approx(1.0)
    assert 0.7 < real.nn_ratio < 1.3  # another real set: about as far from the training set
    assert real.ndb <= 5
    row = ev.evaluate(trained.generator)
    assert ev.rows["gan"] is row
    rec = ev.records()
    assert set(rec) == {
        "fd",
        "fd_recon_floor",
        "fd_real_floor",
        "fd_gaussian_baseline",
        "fd_real_floor_spread",
        "kid",
        "pitch_accuracy",
        "family_entropy_ratio",
        "ndb",
        "nn_ratio",
    }
    # the floor's seed spread: the standard deviation of real-vs-real FD over four draws of real notes
    assert 0 < rec["fd_real_floor_spread"] < rec["fd_real_floor"]
    assert all(math.isfinite(v) for v in rec.values())
    assert rec["fd_real_floor"] == real.fd and rec["fd_recon_floor"] == recon.fd
    assert 0 <= rec["pitch_accuracy"] <= 1 and 0 <= rec["ndb"] <= CONFIG.ndb_k
    # pitch comes from f0, not from z: the stand-in decoder plays the requested pitch
    assert recon.pitch_accuracy > 0.9 and rec["pitch_accuracy"] > 0.9
    table = ev.table()
    for label in ("held-out real", "AE reconstructions", "Gaussian baseline", "latent GAN", "N = 100"):
        assert label in table
    targets = ev.targets()
    assert len(targets) == 7 and all(isinstance(ok, bool) for _, _, ok in targets)
    assert len({name for name, _, _ in targets}) == 7
    spread_target = next(ok for name, _, ok in targets if "spread" in name)
    assert spread_target == (rec["fd_gaussian_baseline"] - rec["fd"] > rec["fd_real_floor_spread"])
    # the evaluation is deterministic
    again = ev.evaluate(trained.generator, name="gan_again")
    assert again.fd == row.fd and again.ndb == row.ndb


def test_evaluator_scores_a_copying_generator_as_a_copier(evaluator, data):
    """A 'generator' that returns training latents has nn ratio ~0."""

    class Copier(LatentGenerator):
        def generate(self, noise, pitch, family):
            return data.standardise(data.train.z[: len(pitch)]).to(noise)

    g = Copier(latent_dim=6, noise_dim=8, hidden=8, layers=1, embed_dim=4)
    g.set_latent_stats(data.mean, data.std)
    row = evaluator.evaluate(g, name="copier")
    assert row.nn_ratio < 0.01


def test_generated_song_and_timbre_morph(autoencoder, trained):
    song = tune("c_major_scale", bpm=240)
    audio, played = generate_song(trained.generator, autoencoder, song, "flute", seed=1)
    assert played.pitches.tolist() == song.pitches.tolist()
    assert audio.ndim == 1 and torch.isfinite(audio).all()
    assert audio.abs().max() == pytest.approx(0.9, abs=1e-5)
    last = song.notes[-1]
    ring = min(last.duration + 0.06, autoencoder.n_samples / SR)  # a note sounds at most as long as it was decoded
    assert abs(audio.shape[0] / SR - (last.start + ring + 0.05)) < 0.001
    again, _ = generate_song(trained.generator, autoencoder, song, "flute", seed=1)
    assert torch.equal(audio, again)
    with pytest.warns(UserWarning, match="octave"):
        _, moved = generate_song(trained.generator, autoencoder, song.transpose(36), 2, seed=1)
    assert max(moved.pitches.tolist()) <= 84
    for space in ("latent", "noise"):
        morph, t, _ = timbre_morph(trained.generator, autoencoder, song, ("flute", 1), ("brass", 2), space=space)
        assert torch.isfinite(morph).all() and t[0] == 0 and t[-1] == 1 and len(t) == len(song)
    with pytest.raises(ValueError, match="space"):
        timbre_morph(trained.generator, autoencoder, song, ("flute", 1), ("brass", 2), space="audio")


def test_weights_round_trip_and_status(tmp_path, autoencoder, data, trained):
    path = ch7.save_latent_gan(
        trained.generator, tmp_path / "lg.safetensors", CONFIG, data, meta={"steps": 6, "train_seconds": 1.0}
    )
    g, meta = ch7.load_latent_gan(path)
    assert meta["steps"] == 6 and meta["autoencoder"] == data.fingerprint
    noise = torch.randn(4, CONFIG.noise_dim)
    p, f = torch.tensor([50, 60, 70, 80]), torch.tensor([0, 1, 2, 3])
    assert torch.allclose(g.sample(p, f, noise), trained.generator.sample(p, f, noise), atol=0.05)  # fp16 weights
    ok, why = ch7.shipped_weights_status(autoencoder, CONFIG, path=path)
    assert ok, why
    ok, why = ch7.shipped_weights_status(autoencoder, CONFIG, retrain=True, path=path)
    assert not ok and "RETRAIN" in why
    other = StandInAutoencoder()
    with torch.no_grad():
        other.proj.weight.add_(0.1)
    with pytest.raises(MissingWeightsError, match="another autoencoder.*make_latent_gan_weights.*RETRAIN = True"):
        ch7.shipped_weights_status(other, CONFIG, path=path)  # never a silent retraining in the quick profile
    ok, why = ch7.shipped_weights_status(autoencoder, replace(CONFIG, profile="full"), path=path)
    assert not ok and "profile" in why
    with pytest.raises(MissingWeightsError, match="missing.*make_latent_gan_weights"):
        ch7.shipped_weights_status(autoencoder, CONFIG, path=tmp_path / "gone.safetensors")
    # the asset carries the latents: loading from it skips encoding and gives the same numbers
    loaded = load_chapter_data(autoencoder, CONFIG, asset=path, verbose=False)
    assert torch.equal(loaded.train.z, data.train.z) and torch.equal(loaded.reference.z, data.reference.z)
    with pytest.raises(FileNotFoundError, match="make_latent_gan_weights"):
        ch7.load_latent_gan(tmp_path / "missing.safetensors")


def test_load_or_train_gives_a_train_result_either_way(tmp_path, autoencoder, data, trained):
    path = ch7.save_latent_gan(
        trained.generator, tmp_path / "lg.safetensors", CONFIG, data,
        meta={"steps": 6, "train_seconds": 1.0, "history": trained.history,
              "latent_fd": {"step": trained.fd_steps, "fd": trained.latent_fd}},
    )  # fmt: skip
    got = ch7.load_or_train(autoencoder, data, CONFIG, path=path)
    assert got.shipped and isinstance(got.value, ch7.TrainResult) and got.value.steps == 6
    assert got.value.fd_steps == trained.fd_steps and "lg.safetensors" in str(got) and "6 generator steps" in str(got)
    assert got.value.trained_on == trained.trained_on == data.notes.key()  # which notes its sheet was fitted to
    with redirect_stdout(io.StringIO()):
        here = ch7.load_or_train(autoencoder, data, CONFIG, retrain=True, path=path, save_dir=tmp_path)
    assert not here.shipped and isinstance(here.value, ch7.TrainResult) and "RETRAIN = True" in str(here)
    assert (
        here.value.steps == CONFIG.steps
        and ch7.load_latent_gan(tmp_path / "latent_gan_quick.safetensors")[1]["steps"] == 6
    )
    other = StandInAutoencoder()
    with torch.no_grad():
        other.proj.weight.add_(0.1)
    with pytest.raises(MissingWeightsError, match="another autoencoder"):
        ch7.load_or_train(other, data, CONFIG, path=path)


def test_profiles():
    quick, full = ch7.LatentGANConfig.for_profile("quick"), ch7.LatentGANConfig.for_profile("full")
    assert (
        quick.n_critic == 5
        and quick.gp_weight == 10
        and quick.lr == 3e-4
        and quick.betas == (0.0, 0.9)
        and quick.noise_dim == 8
    )
    assert quick.ndb_k == 50 and full.n_train > quick.n_train and full.steps > quick.steps
    assert "profile quick" in quick.describe()
    with pytest.raises(ValueError, match="PROFILE"):
        ch7.LatentGANConfig.for_profile("huge")


@pytest.mark.slow
def test_shipped_weights_fit_the_shipped_autoencoder():
    pytest.importorskip("musicgan_lib.models.ddsp_autoencoder")
    from musicgan_lib.models.ddsp_autoencoder import ASSET_PATH as AE_PATH, load_autoencoder

    if not (AE_PATH.exists() and ch7.ASSET_PATH.exists()):
        pytest.skip("shipped autoencoder or latent GAN weights not built")
    ae = load_autoencoder()
    config = ch7.LatentGANConfig.for_profile("quick")
    ok, why = ch7.shipped_weights_status(ae, config)
    assert ok, why
    g, meta = ch7.load_latent_gan()
    assert g.latent_dim == ae.latent_dim
    z = g.sample(torch.tensor([60, 72]), torch.tensor([0, 4]), generator=torch.Generator().manual_seed(0))
    audio = decode_latents(ae, z, torch.tensor([60, 72]))
    assert audio.shape == (2, ae.n_samples) and torch.isfinite(audio).all()


def test_the_sheet_fits_a_curve_per_condition_and_the_generator_can_only_write_points_on_it():
    """Latents on a different 1-D curve per (pitch, family): a 1-D sheet fits them far better than their spread,
    and whatever the generator's MLP writes, its latents are the frozen sheet's points."""
    g = torch.Generator().manual_seed(0)
    n = 2000
    pitch, family = torch.randint(48, 85, (n,), generator=g), torch.randint(0, 8, (n,), generator=g)
    t = torch.rand(n, generator=g) * 2 - 1  # where on its condition's curve a latent sits
    h = (pitch - 66) / 18
    x = torch.stack([t, t**2 + h, torch.sin(2 * t) * (family - 3.5) / 4, h * t, family / 8.0 - 0.5], dim=1)
    generator = LatentGenerator(latent_dim=5, noise_dim=4, hidden=64, layers=2, embed_dim=4, sheet_dim=1)
    assert generator.head.out_features == 1 and not any(p.requires_grad for p in generator.sheet.parameters())
    mse = generator.fit_sheet(x, pitch, family, steps=1500, seed=0)
    assert mse < 0.02 * float(x.var(0).mean())  # the spread is ~0.2 per coordinate
    assert not any(p.requires_grad for p in generator.sheet.parameters())  # frozen again
    noise = torch.randn(6, 4, generator=g)
    with torch.no_grad():
        code = generator.head(generator.body(torch.cat([noise, generator.cond(pitch[:6], family[:6])], dim=1)))
        on_sheet = generator.sheet(code, pitch[:6], family[:6])
        assert torch.allclose(generator.generate(noise, pitch[:6], family[:6]), on_sheet)
    with pytest.raises(ValueError, match="no sheet"):
        LatentGenerator(latent_dim=5, noise_dim=4, hidden=8, layers=1, embed_dim=2).fit_sheet(x, pitch, family, 1)
    with pytest.raises(ValueError, match="a sheet of one piece takes no `branch` labels"):
        generator.fit_sheet(x, pitch, family, 1, branch=torch.zeros_like(pitch))


def test_a_branched_sheet_gives_each_instrument_its_own_piece_and_the_generator_picks_exactly_one():
    """Two "instruments" per condition, far apart, each a 1-D curve (velocity): a 2-piece sheet, one piece
    per instrument, fits them; a generated latent is exactly one piece's point, never in the gap between."""
    g = torch.Generator().manual_seed(1)
    n = 2000
    pitch, family = torch.randint(48, 85, (n,), generator=g), torch.randint(0, 8, (n,), generator=g)
    instrument = torch.randint(0, 2, (n,), generator=g)
    v = torch.rand(n, generator=g) * 2 - 1  # velocity: the place along the instrument's curve
    h = (pitch - 66) / 18
    side = instrument * 2.0 - 1.0  # the two instruments sit at +-1 in the first coordinate
    x = torch.stack([side + 0.1 * h, v, side * v**2, h * v, family / 8.0 - 0.5], dim=1)
    generator = LatentGenerator(
        latent_dim=5, noise_dim=4, hidden=64, layers=2, embed_dim=4, sheet_dim=1, sheet_branches=2
    )
    assert generator.head.out_features == 1 + 2  # one code and two logits
    with pytest.raises(ValueError, match=r"needs `branch` \[N\] in 0..1"):
        generator.fit_sheet(x, pitch, family, steps=1)
    with pytest.raises(ValueError, match=r"values in 0..1"):
        generator.fit_sheet(x, pitch, family, steps=1, branch=instrument + 1)
    mse = generator.fit_sheet(x, pitch, family, steps=1500, seed=0, branch=instrument)
    assert mse < 0.02 * float(x.var(0).mean())
    assert not any(p.requires_grad for p in generator.sheet.parameters())
    with torch.no_grad():  # each piece holds one instrument: no latent at the first coordinate's midpoint
        noise = torch.randn(500, 4, generator=g)
        out = generator.generate(noise, pitch[:500], family[:500])
        assert (out[:, 0].abs() > 0.5).float().mean() > 0.95
        code = generator.head(generator.body(torch.cat([noise, generator.cond(pitch[:500], family[:500])], dim=1)))
        pick = nn.functional.one_hot(code[:, 1:].argmax(1), 2).float()
        assert torch.allclose(out, generator.sheet(code[:, :1], pitch[:500], family[:500], pick), atol=1e-6)
    with pytest.raises(ValueError, match="2 branches: pass a one-hot branch"):
        generator.sheet(code[:, :1], pitch[:500], family[:500])


def test_straight_through_one_hot_is_exactly_one_hot_forward_with_the_softmax_gradient():
    logits = torch.tensor([[0.3, 2.0, -1.0], [1.5, 0.0, 0.2]], requires_grad=True)
    out = straight_through_one_hot(logits)
    assert torch.equal(out.detach(), torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]))
    weights = torch.tensor([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])
    (out * weights).sum().backward()
    soft = logits.detach().softmax(1)
    expected = soft * (weights - (soft * weights).sum(1, keepdim=True))  # the softmax's Jacobian times weights
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_the_gan_never_moves_the_sheet_and_a_given_sheet_is_used_as_it_is(data, trained):
    assert CONFIG.sheet_dim == 1 and trained.generator.sheet is not None
    fitted = ch7.make_trainer(data, CONFIG, 0, "cpu").generator.sheet  # the same seed fits the same sheet
    for name, value in fitted.state_dict().items():
        assert torch.equal(value, trained.generator.sheet.state_dict()[name]), name
    pieces = trained.generator.branches  # one per instrument; one for synthetic notes, which have no instruments
    assert pieces == (CONFIG.sheet_branches if data.notes.real else 1)
    other = LatentGenerator(
        6, 8, CONFIG.hidden, CONFIG.layers, CONFIG.embed_dim, sheet_dim=1, sheet_branches=pieces
    ).sheet
    given = ch7.make_trainer(data, CONFIG, 0, "cpu", sheet=other).generator.sheet
    assert all(torch.equal(a, b) for a, b in zip(given.state_dict().values(), other.state_dict().values()))


def test_the_sheet_has_a_piece_per_instrument_for_soundfont_notes_and_one_for_synthetic_notes(autoencoder, tmp_path):
    synthetic = load_chapter_data(autoencoder, CONFIG, cache_dir=tmp_path, verbose=False, notes=NoteData("synthetic"))
    with pytest.raises(ValueError, match="synthetic notes have no instruments.*needs SoundFont notes"):
        training_instruments(synthetic, CONFIG)
    assert ch7.make_trainer(synthetic, CONFIG, 0, "cpu").generator.branches == 1
    if not (font := find_soundfont()):
        pytest.skip("no SoundFont installed: the instrument labels need one")
    real = replace(synthetic, notes=NoteData("soundfont", font))  # labels come from the note stream, not audio
    with pytest.raises(RuntimeError, match="labels differ"):  # synthetic pitches are not the SoundFont stream's
        training_instruments(real, CONFIG)
    programs, pitches, velocities = soundfont_labels(CONFIG.n_train, seed=CONFIG.data_seed)
    real.train = LatentSet(real.train.z, torch.tensor(pitches), real.train.family.clone(), torch.tensor(velocities))
    real.train.family = torch.tensor(
        [next(i for i, f in enumerate(FAMILIES) if p in DEFAULT_PROGRAMS[f]) for p in programs]
    )
    pieces = training_instruments(real, CONFIG)
    assert pieces.shape == (CONFIG.n_train,) and set(pieces.tolist()) == {0, 1}
    for piece, program, family in zip(pieces.tolist(), programs, real.train.family.tolist()):
        assert DEFAULT_PROGRAMS[FAMILIES[family]][piece] == program
