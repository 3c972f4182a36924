"""Chapter 8's GAN: frame codec round trip, seamless songs by construction, WGAN-GP steps and exact resume."""

import dataclasses
import math

import pytest
import torch
from torch import Tensor

from musicgan_lib.audio.synth import midi_to_hz
from musicgan_lib.models.song_gan import (
    FrameCodec,
    SongCritic,
    SongGANConfig,
    SongGenerator,
    clock_onsets,
    hold_notes,
    hold_notes_per_gap,
    MODE_SCALES,
    key_shift,
    note_features,
    threshold_onsets,
    load_song_gan,
    save_song_gan,
    song_anchors,
    window_latents,
)
from musicgan_lib.recipes import song_gan as ch8

SMALL = SongGANConfig(
    n_pitches=12,
    lowest_pitch=60,
    latent_dim=3,
    window_frames=40,
    anchor_every=20,
    anchor_dim=4,
    style_dim=4,
    channels=8,
)


def test_codec_round_trip():
    codec = FrameCodec(SMALL, torch.tensor([0.5, -1.0, 2.0]), torch.tensor([2.0, 1.0, 0.5]))
    f0 = torch.tensor([[midi_to_hz(60.0), 0.0, midi_to_hz(71.0), midi_to_hz(64.2), midi_to_hz(90.0)]]).float()
    loud = torch.tensor([[-30.0, -80.0, -10.0, -40.0, -20.0]])
    z = torch.randn(1, 5, 3)
    frames = codec.to_frames(f0, loud, z)
    assert frames.shape == (1, SMALL.frame_channels, 5) and SMALL.frame_channels == 12 + 2 + 3
    assert frames[0, :13].argmax(0).tolist() == [1, 0, 12, 5, 12]  # no-pitch bin 0; 64.2 rounds to 64; 90 clamps to 71
    f0_back, loud_back, z_back = codec.from_frames(frames)
    expected = [midi_to_hz(60.0), 0.0, midi_to_hz(71.0), midi_to_hz(64.0), midi_to_hz(71.0)]
    assert torch.allclose(f0_back, torch.tensor([expected]).float())
    assert torch.allclose(loud_back, loud) and torch.allclose(z_back, z, atol=1e-6)


def long_pass_and_windows(cfg: SongGANConfig, n_windows: int) -> tuple[Tensor, Tensor]:
    """A fresh generator (seed 0) over n_windows windows' anchors (seed 1): one long pass [1, C, T] and the
    windows generated one by one, joined [1, C, T]."""
    torch.manual_seed(0)
    g = SongGenerator(cfg).eval()
    anchors, style = song_anchors(n_windows, cfg, torch.Generator().manual_seed(1))
    with torch.no_grad():
        long = g.frames_from(anchors, style)
        windows = torch.cat([g(latent[None]) for latent in window_latents(anchors, style, cfg)], dim=2)
    return long, windows


def test_a_long_song_is_its_windows_joined_exactly():
    """The seam property: windows sharing border anchors equal one long pass, frame for frame."""
    for cfg in (SMALL, SongGANConfig()):
        long, windows = long_pass_and_windows(cfg, 5)
        assert long.shape == (1, cfg.frame_channels, 5 * cfg.window_frames)
        assert torch.allclose(long, windows, atol=1e-5)
        k = cfg.n_pitches + 1
        assert torch.allclose(long[:, :k].sum(1), torch.ones(1, long.shape[-1]))  # pitch probabilities


def test_a_generator_with_a_longer_reach_would_seam():
    """The test above can fail: widen the coarse stack past the margin and the windows drift apart."""
    cfg = SongGANConfig()
    g = SongGenerator(cfg).eval()
    g.coarse = torch.nn.Sequential(*g.coarse, *(type(g.coarse[0])(cfg.channels, 8) for _ in range(3)))
    anchors, style = song_anchors(3, cfg, torch.Generator().manual_seed(1))
    with torch.no_grad():
        long = g.frames_from(anchors, style)
        windows = torch.cat([g(latent[None]) for latent in window_latents(anchors, style, cfg)], dim=2)
    assert not torch.allclose(long, windows, atol=1e-5)


def test_bad_config_is_named():
    with pytest.raises(
        ValueError, match=r"anchor_every \(30\) must be a multiple of 4, at least 20, that divides window_frames"
    ):
        SongGANConfig(anchor_every=30)


def test_wgan_gp_steps_are_finite_and_resume_exactly(tmp_path):
    config = dataclasses.replace(ch8.SongConfig(), gan=SMALL, gan_batch=4, n_critic=2, checkpoint_every=2)
    frames = torch.randn(10, SMALL.frame_channels, SMALL.window_frames)
    straight = ch8.make_gan_trainer(config, frames, seed=3)
    straight.run(4)
    assert all(torch.isfinite(torch.tensor(straight.history[k])).all() for k in ("d_loss", "g_loss", "gp"))
    first = ch8.make_gan_trainer(config, frames, seed=3, checkpoint_path=tmp_path / "gan.ckpt")
    first.run(2)
    resumed = ch8.make_gan_trainer(config, frames, seed=9, checkpoint_path=tmp_path / "gan.ckpt")
    assert resumed.loop.resume() and resumed.step == 2
    resumed.run(4)
    assert resumed.history["d_loss"] == straight.history["d_loss"]
    for a, b in zip(straight.generator.state_dict().values(), resumed.generator.state_dict().values()):
        assert torch.equal(a, b)
    codec = FrameCodec(SMALL, torch.zeros(3), torch.ones(3))
    gan = ch8.trained_song_gan(straight, codec)
    path = save_song_gan(
        gan.generator, codec, tmp_path / "song_gan.safetensors", steps=4, train_seconds=0.0, data="noise"
    )
    shipped = load_song_gan(path)
    assert shipped.meta["steps"] == 4 and torch.equal(shipped.codec.z_std, codec.z_std)
    latents = torch.randn(2, SMALL.latent_size)
    with torch.no_grad():
        assert torch.allclose(
            shipped.generator(latents), straight.ema.module.eval()(latents), atol=2e-2
        )  # fp16 weights
    assert SongCritic(SMALL)(frames).shape == (10,)


def test_generation_benchmark_runs_small(capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_song_generation.py"
    spec = importlib.util.spec_from_file_location("bench_song_generation", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--seconds", "8", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "8 s song (1 windows)" in out and "one pass" in out and "per window" in out and "x real time" in out


def test_hard_pitch_is_one_hot_forward_with_the_softmax_gradient():
    cfg = dataclasses.replace(SMALL, hard_pitch=True)
    torch.manual_seed(0)
    g = SongGenerator(cfg)
    latents = torch.randn(2, cfg.latent_size, requires_grad=True)
    frames = g(latents)
    k = cfg.n_pitches + 1
    pitch = frames[:, :k].detach()
    assert torch.allclose(pitch, pitch.round(), atol=1e-6) and torch.allclose(pitch.sum(1), torch.ones(2, 40))
    soft = SongGenerator(SMALL)
    soft.load_state_dict(g.state_dict())
    weights = torch.randn(k, 40)
    (frames[:, :k] * weights).sum().backward()
    hard_grad = latents.grad.clone()
    latents.grad = None
    (soft(latents)[:, :k] * weights).sum().backward()
    assert torch.allclose(hard_grad, latents.grad, atol=1e-6)  # straight-through: the soft path's gradient


CONTINUOUS = dataclasses.replace(SMALL, pitch_mode="continuous")


def test_continuous_codec_round_trip_and_dequantization():
    codec = FrameCodec(CONTINUOUS, torch.zeros(3), torch.ones(3))
    f0 = torch.tensor([[midi_to_hz(60.0), 0.0, midi_to_hz(71.0), midi_to_hz(64.2), midi_to_hz(90.0)]]).float()
    loud = torch.tensor([[-30.0, -80.0, -10.0, -40.0, -20.0]])
    frames = codec.to_frames(f0, loud, torch.randn(1, 5, 3))
    assert frames.shape == (1, 2 + 1 + 3, 5) and CONTINUOUS.frame_channels == 6
    assert frames[0, 0].tolist() == [1.0, 0.0, 1.0, 1.0, 1.0]  # voicing
    # pitch in octaves around the middle of 60..71 (65.5); the unvoiced frame holds the last pitch (60)
    expected_midi = torch.tensor([60.0, 60.0, 71.0, 64.0, 71.0])
    assert torch.allclose(frames[0, 1], (expected_midi - 65.5) / 12)
    back = codec.from_frames(frames)[0]
    assert torch.allclose(
        back, torch.tensor([[midi_to_hz(60.0), 0.0, midi_to_hz(71.0), midi_to_hz(64.0), midi_to_hz(71.0)]])
    )
    # dequantized real frames: voicing and pitch move within their cells, so they decode to the same f0
    noisy = codec.dequantize(frames.expand(64, -1, -1).clone(), torch.Generator().manual_seed(0))
    assert torch.equal(codec.from_frames(noisy)[0], back.expand(64, -1))
    assert noisy[:, 0, 0].min() >= 0.5 and noisy[:, 0, 1].max() < 0.5 and noisy[:, 1].std() > 0.01
    assert torch.equal(noisy[:, 2:], frames.expand(64, -1, -1)[:, 2:])  # loudness and z untouched
    onehot = FrameCodec(SMALL, torch.zeros(3), torch.ones(3))
    x = onehot.to_frames(f0, loud, torch.zeros(1, 5, 3))
    assert onehot.dequantize(x) is x  # the one-hot layout is left as it is


def test_continuous_generator_writes_voicing_in_0_1_and_joins_windows_exactly():
    long, windows = long_pass_and_windows(CONTINUOUS, 3)
    assert long.shape == (1, CONTINUOUS.frame_channels, 3 * CONTINUOUS.window_frames)
    assert torch.allclose(long, windows, atol=1e-5)
    assert 0 < long[:, 0].min() and long[:, 0].max() < 1


def test_pitch_mode_is_checked():
    with pytest.raises(ValueError, match="pitch_mode"):
        dataclasses.replace(SMALL, pitch_mode="midi")


def test_profiles_are_the_defaults_and_a_short_list_of_overrides():
    assert ch8.SongConfig.for_profile("quick") == ch8.SongConfig()
    full = ch8.SongConfig.for_profile("full")
    assert full == dataclasses.replace(ch8.SongConfig(), profile="full", **ch8.FULL) and full.gan_steps > 10_000
    with pytest.raises(ValueError, match="unknown PROFILE"):
        ch8.SongConfig.for_profile("fast")


def test_load_or_train_gives_the_same_models_either_way(monkeypatch):
    shipped = ch8.load_or_train(ch8.SongConfig(), retrain=False)
    assert shipped.shipped and "song_autoencoder.safetensors, song_gan.safetensors" in str(shipped)
    models = shipped.value
    assert isinstance(models, ch8.SongModels) and not models.autoencoder.training
    assert models.gan.meta["steps"] == 3000 and models.gan.meta["train_seconds"] > 0  # old files' `seconds`
    monkeypatch.setattr(ch8, "train_song_models", lambda config, seed, work_dir: models)
    trained = ch8.load_or_train(ch8.SongConfig(), retrain=True)
    assert not trained.shipped and trained.value is models and "RETRAIN = True" in str(trained)


def test_a_trained_gan_is_what_the_loader_gives():
    config = dataclasses.replace(ch8.SongConfig(), gan=SMALL, gan_batch=4, n_critic=2)
    trainer = ch8.make_gan_trainer(config, torch.randn(6, SMALL.frame_channels, SMALL.window_frames), seed=0)
    trainer.run(2)
    gan = ch8.trained_song_gan(trainer, FrameCodec(SMALL, torch.zeros(3), torch.ones(3)))
    assert gan.generator is trainer.ema.module and not gan.generator.training
    assert gan.meta["steps"] == 2 and set(gan.meta["history"]) >= {"w_distance", "gp"}


def test_interval_features_count_the_melody_steps_and_key():
    from musicgan_lib.models.song_gan import INTERVAL_CHANNELS, KEY_LAG, MAX_STEP, STEP_LAG, interval_features

    # C4 for 60 frames, then D4 (a step up 2) for 60 frames, then G3 (a leap down 7); bins: 1 + midi - 48
    midi = torch.tensor([60] * 60 + [62] * 60 + [55] * 60)
    probs = torch.nn.functional.one_hot(1 + midi - 48, 1 + 36).T[None].float()  # [1, 37, 180]
    feats = interval_features(probs, lowest_pitch=48)
    assert feats.shape == (1, INTERVAL_CHANNELS, 180) and INTERVAL_CHANNELS == 49
    steps, key, chroma = feats[0, :25], feats[0, 25:37], feats[0, 37:]
    assert steps[:, :STEP_LAG].sum() == 0  # nothing STEP_LAG frames before the start
    assert steps[MAX_STEP + 2, 60 : 60 + STEP_LAG].tolist() == [1.0] * STEP_LAG  # just after the C -> D change
    assert steps[MAX_STEP - 7, 120 : 120 + STEP_LAG].tolist() == [1.0] * STEP_LAG  # just after D -> G
    assert steps[MAX_STEP].sum() == 180 - 3 * STEP_LAG  # every other frame holds its note
    assert steps.sum(0)[STEP_LAG:].eq(1).all()  # one-hot frames: exactly one step per frame
    assert key[2, 60 + KEY_LAG] == 0 and key[2, 60 : 60 + KEY_LAG].sum() == KEY_LAG  # D is C + 2
    assert key[(7 - 2) % 12, 120 : 120 + KEY_LAG].sum() == KEY_LAG  # G is D + 5 (mod 12)
    assert chroma.argmax(0).tolist() == [0] * 60 + [2] * 60 + [7] * 60

    # soft probabilities give expected counts, and the critic's score has a gradient through them
    cfg = dataclasses.replace(SMALL, critic_intervals=True)
    frames = torch.rand(2, cfg.frame_channels, 40)
    frames[:, :13] = torch.softmax(frames[:, :13] * 3, 1)
    frames.requires_grad_(True)
    soft = interval_features(frames[:, :13], cfg.lowest_pitch)
    assert torch.allclose(
        soft[:, :25].sum(1)[:, STEP_LAG:], (1 - frames[:, 0, STEP_LAG:]) * (1 - frames[:, 0, :-STEP_LAG])
    )
    SongCritic(cfg)(frames).sum().backward()
    assert frames.grad[:, :13].abs().sum() > 0
    with pytest.raises(ValueError, match="critic_intervals needs pitch_mode='onehot'"):
        SongGANConfig(pitch_mode="continuous", critic_intervals=True)


def test_key_shift_moves_the_voiced_bins_up_by_the_tonic():
    relative = torch.zeros(1, 1 + 3, 2)  # no pitch + 3 semitones above the tonic, 2 frames
    relative[0, 0, 0] = 1.0  # frame 0: no pitch
    relative[0, 1:, 1] = torch.tensor([0.5, 0.0, 0.5])  # frame 1: tonic or 2 above it
    key = torch.nn.functional.one_hot(torch.tensor([4]), 12).float()
    out = key_shift(relative, key)
    assert out.shape == (1, 1 + 3 + 11, 2)
    assert out[0, 0].tolist() == [1.0, 0.0]
    assert out[0, 1:, 1].nonzero().flatten().tolist() == [4, 6]  # bins 0 and 2 shifted up by 4
    assert torch.allclose(out[0, 1 + 4, 1], torch.tensor(0.5)) and torch.allclose(out.sum(1), relative.sum(1))
    half = key_shift(relative, torch.full((1, 12), 1 / 12))  # soft keys mix the twelve shifts
    expected = torch.tensor([0.5, 0.5] + [1.0] * 10 + [0.5, 0.5]) / 12  # bin j: tonics s with j - s in {0, 2}
    assert torch.allclose(half[0, 1:, 1], expected)


def test_key_pitch_songs_stay_inside_their_key_span_and_join_exactly():
    cfg = dataclasses.replace(SongGANConfig(), key_pitch=True)
    assert SongGenerator(cfg).head.out_channels == cfg.frame_channels - 11
    assert "key_head.weight" not in SongGenerator(SongGANConfig()).state_dict()  # the default is unchanged
    torch.manual_seed(0)
    g = SongGenerator(cfg).eval()
    for seed in range(3):
        anchors, style = song_anchors(3, cfg, torch.Generator().manual_seed(seed))
        with torch.no_grad():
            long = g.frames_from(anchors, style)
            windows = torch.cat([g(latent[None]) for latent in window_latents(anchors, style, cfg)], dim=2)
            tonic = int(g.song_key(style).argmax())
        k = cfg.n_pitches + 1
        assert long.shape == (1, cfg.frame_channels, 3 * cfg.window_frames)
        assert torch.allclose(long, windows, atol=1e-5) and torch.allclose(long[:, :k].sum(1), torch.ones(1, 1200))
        outside = torch.cat([long[0, 1 : 1 + tonic], long[0, 1 + tonic + cfg.key_span : k]])
        assert outside.shape == (11, 1200) and outside.abs().max() == 0  # no probability outside the key's span
    latents = torch.randn(2, cfg.latent_size)
    g.train()(latents)[:, 1:k].pow(2).sum().backward()  # straight-through: the tonic's choice gets a gradient
    assert g.key_head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="key_pitch needs pitch_mode='onehot'"):
        SongGANConfig(pitch_mode="continuous", key_pitch=True)


def test_the_sorted_pitch_class_histogram_tells_a_scale_from_a_drone_in_any_key():
    from musicgan_lib.models.song_gan import sorted_pitch_class_histogram

    def window(midis: list[int]) -> Tensor:  # one-hot frames [1, 1 + 57, 10 per note], MIDI 40..96
        bins = torch.tensor([m - 40 + 1 for m in midis]).repeat_interleave(10)
        return torch.nn.functional.one_hot(bins, 58).T[None].float()

    c_major = window([60, 62, 64, 65, 67, 69, 71, 72])  # C D E F G A B C: C twice
    d_major = window([62, 64, 66, 67, 69, 71, 73, 74])  # the same scale a tone higher
    drone = window([60] * 6 + [67] * 2)
    hist = sorted_pitch_class_histogram(c_major, 40)
    assert torch.allclose(hist, sorted_pitch_class_histogram(d_major, 40))  # the key is forgotten
    assert torch.allclose(hist[0, :8], torch.tensor([2, 1, 1, 1, 1, 1, 1, 0]) / 8.0) and hist[0, 8:].sum() == 0
    assert torch.allclose(sorted_pitch_class_histogram(drone, 40)[0, :3], torch.tensor([0.75, 0.25, 0.0]))
    unvoiced = torch.zeros(1, 58, 10)
    unvoiced[:, 0] = 1
    assert sorted_pitch_class_histogram(unvoiced, 40).abs().sum() == 0  # no pitch: no share, no division by 0
    cfg = dataclasses.replace(SMALL, critic_histogram=True)
    frames = torch.rand(2, cfg.frame_channels, 40)
    frames[:, :13] = torch.softmax(frames[:, :13] * 3, 1)
    frames.requires_grad_(True)
    SongCritic(cfg)(frames).sum().backward()
    assert SongCritic(cfg).out.in_features == cfg.channels + 12 and frames.grad[:, 1:13].abs().sum() > 0
    with pytest.raises(ValueError, match="critic_histogram needs pitch_mode='onehot'"):
        SongGANConfig(pitch_mode="continuous", critic_histogram=True)


def test_threshold_onsets_hold_each_note_and_pass_the_straight_through_gradient():
    values = torch.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0], [0.1, 0.2, 0.3, 0.4, 0.5]]], requires_grad=True)
    onset_logits = torch.tensor([[-3.0, -1.0, 2.0, -0.5, 1.0]], requires_grad=True)
    held = hold_notes(values, threshold_onsets(onset_logits))
    # frame 0 always starts a note; onsets at frames 2 and 4 (logit > 0)
    assert torch.allclose(held, torch.tensor([[[1.0, 1.0, 3.0, 3.0, 5.0], [0.1, 0.1, 0.3, 0.3, 0.5]]]))
    held[0, 0].sum().backward()
    s = torch.sigmoid(onset_logits.detach())[0]
    # d held_t / d onset_t = sigmoid'(logit) * (values_t - held_(t-1)), carried on until the next onset
    expected_1 = s[1] * (1 - s[1]) * (2.0 - 1.0)  # frame 2 starts a note: only frame 1 would move
    expected_3 = s[3] * (1 - s[3]) * (4.0 - 3.0)  # frame 4 starts a note: only frame 3 would move
    assert torch.allclose(onset_logits.grad[0, 1], expected_1) and torch.allclose(onset_logits.grad[0, 3], expected_3)
    assert onset_logits.grad[0, 0] == 0  # frame 0 is an onset by definition
    assert values.grad[0, 0].tolist() == [2.0, 0.0, 2.0, 0.0, 1.0]  # each onset's value feeds the frames it holds


def test_note_hold_writes_steady_notes_and_real_frames_are_dequantized_once_per_note():
    cfg = dataclasses.replace(CONTINUOUS, note_hold=True)
    assert cfg.head_channels == CONTINUOUS.head_channels + 1  # the onset channel
    torch.manual_seed(0)
    g = SongGenerator(cfg).eval()
    with torch.no_grad():
        g.head.bias[-1] = -2.0  # few onsets: long notes
        frames = g(torch.randn(4, cfg.latent_size))
    assert frames.shape == (4, cfg.frame_channels, cfg.window_frames)
    changes = (frames[:, :2, 1:] != frames[:, :2, :-1]).any(1)  # voicing and pitch change together, at onsets
    assert torch.equal((frames[:, 0, 1:] != frames[:, 0, :-1]), changes)
    assert changes.float().mean() < 0.5
    codec = FrameCodec(cfg, torch.zeros(3), torch.ones(3))
    f0 = midi_to_hz(torch.tensor([[60.0, 60, 60, 0, 0, 64, 64, 64, 65, 65]]))
    f0[0, 3:5] = 0.0
    real = codec.to_frames(f0, torch.full((1, 10), -30.0), torch.zeros(1, 10, 3))
    noisy = codec.dequantize(real.expand(32, -1, -1).clone(), torch.Generator().manual_seed(0))
    assert torch.equal(codec.from_frames(noisy)[0], codec.from_frames(real)[0].expand(32, -1))
    for a, b in ((0, 3), (3, 5), (5, 8), (8, 10)):  # one draw per note or rest, different draws between them
        assert (noisy[:, :2, a:b] == noisy[:, :2, a : a + 1]).all()
    assert (noisy[:, 1, 2] != noisy[:, 1, 5]).all() and (noisy[:, 1, 7] != noisy[:, 1, 8]).all()
    with pytest.raises(ValueError, match="note_hold needs pitch_mode='continuous'"):
        dataclasses.replace(SMALL, note_hold=True)


def test_scale_degrees_write_only_the_songs_key_exactly_and_pass_gradients_to_degree_key_and_mode():
    cfg = dataclasses.replace(CONTINUOUS, n_pitches=57, lowest_pitch=40, note_hold=True, scale_degrees=True)
    torch.manual_seed(0)
    g = SongGenerator(cfg)
    latents = torch.randn(8, cfg.latent_size, requires_grad=True)
    frames = g(latents)
    voicing, pitch = frames[:, 0], frames[:, 1]
    assert set(voicing.detach().unique().tolist()) <= {0.0, 1.0}  # exact, as real frames are
    midi = pitch.detach() * 12 + cfg.centre_pitch
    assert torch.allclose(midi, midi.round(), atol=1e-4)  # whole semitones
    _, style = g.split(latents.detach())
    tonic, minor = g.song_key(style).argmax(1), g.song_mode(style).argmax(1)
    for b in range(8):
        scale = {int(v) for v in MODE_SCALES[minor[b]]}
        classes = {int(c) for c in (midi[b].round().long() - tonic[b]) % 12}
        inside = (midi[b] > cfg.lowest_pitch) & (midi[b] < cfg.lowest_pitch + cfg.n_pitches - 1)  # not clamped
        assert {int(c) for c in (midi[b][inside].round().long() - tonic[b]) % 12} <= scale, (b, classes, scale)
    codec = FrameCodec(cfg, torch.zeros(3), torch.ones(3))
    assert codec.dequantize(frames) is frames  # exact frames on both sides: nothing to dequantize
    pitch.sum().backward()
    assert g.head.weight.grad[1].abs().sum() > 0  # the degree channel
    assert g.key_head.weight.grad.abs().sum() > 0 and g.mode_head.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="scale_degrees needs note_hold"):
        dataclasses.replace(CONTINUOUS, scale_degrees=True)


def test_clock_onsets_start_notes_at_whole_phases_never_stop_and_pass_the_rate_gradient():
    # logit 0 is the geometric middle of one note per 50 and per 2 frames: one per 10, so from phase 0.55 notes
    # start where 0.55 + 0.1 (t + 1) passes 1, 2, 3, ...
    rate_logits = torch.zeros(1, 40, requires_grad=True)
    onsets = clock_onsets(rate_logits, torch.tensor([0.55]), shortest=2, longest=50)
    assert set(onsets.detach().unique().tolist()) == {0.0, 1.0}
    assert onsets.detach()[0].nonzero().flatten().tolist() == [4, 14, 24, 34]  # 0.55 + 0.1 * (t + 1) >= n
    # however low the logits, notes keep coming at the slowest rate: one per 200 frames, never a drone
    sunk = clock_onsets(torch.full((2, 1000), -50.0), torch.tensor([0.2512, 0.99]), shortest=6, longest=200)
    assert sunk.detach().sum(1).tolist() == [5.0, 5.0] and sunk.detach()[1].nonzero()[0].item() == 1
    fast = clock_onsets(torch.full((1, 60), 50.0), torch.tensor([0.01]), shortest=6, longest=200)
    assert fast.detach().sum().item() == 10.0  # one per 6 frames at the fastest
    # backward, an onset is its frame's rate: d onset_t / d logit_t = rate * log(fast / slow) * sigmoid'
    onsets[0, 7].backward()
    expected = 0.1 * math.log(25.0) * 0.25
    assert torch.isclose(rate_logits.grad[0, 7], torch.tensor(expected)) and rate_logits.grad[0, 6] == 0


def test_onset_clock_generator_writes_notes_everywhere_and_needs_note_hold():
    cfg = dataclasses.replace(CONTINUOUS, note_hold=True, onset_clock=True, longest_note_frames=16)
    assert cfg.head_channels == CONTINUOUS.head_channels + 1  # the rate channel
    torch.manual_seed(0)
    g = SongGenerator(cfg)
    with torch.no_grad():
        g.head.bias[-1] = -30.0  # the slowest rate: a threshold gate here would start no note at all
    latents = torch.randn(4, cfg.latent_size, requires_grad=True)
    frames = g(latents)
    changes = (frames[:, :2, 1:] != frames[:, :2, :-1]).any(1).detach()  # [4, T - 1]
    assert (changes.sum(1) >= 2).all()  # a new note at least every 16 frames, in every window (40 frames)
    frames[:, 1].sum().backward()  # the critic's wish for other pitches reaches the pitch channel at each onset
    assert g.head.weight.grad[1].abs().sum() > 0 and g.head.weight.grad[-1].abs().sum() > 0
    with pytest.raises(ValueError, match="onset_clock needs note_hold"):
        dataclasses.replace(CONTINUOUS, onset_clock=True)
    with pytest.raises(ValueError, match="shortest_note_frames"):
        dataclasses.replace(CONTINUOUS, shortest_note_frames=300)


def test_a_clock_per_anchor_keeps_windows_exact_pieces_of_the_long_pass_and_one_clock_does_not():
    held = dict(pitch_mode="continuous", note_hold=True, scale_degrees=True, onset_clock=True, longest_note_frames=50)
    equal = {}
    for per_anchor in (True, False):
        cfg = SongGANConfig(**held, clock_per_anchor=per_anchor)
        long, windows = long_pass_and_windows(cfg, 3)
        equal[per_anchor] = torch.allclose(long, windows, atol=1e-5)
        anchors, _ = song_anchors(3, cfg, torch.Generator().manual_seed(1))
        onsets = SongGenerator(cfg).clock(torch.full((1, 3 * cfg.anchor_every), -30.0), anchors[:, :4])
        assert onsets.detach().sum() >= 3 * cfg.anchor_every // 50  # the slowest rate, in either clock
        if per_anchor:  # a note starts at every anchor
            assert onsets.detach()[0, :: cfg.anchor_every].tolist() == [1.0, 1.0, 1.0]
    assert equal == {True: True, False: False}
    with pytest.raises(ValueError, match="clock_per_anchor needs onset_clock"):
        SongGANConfig(clock_per_anchor=True)


def test_holding_gaps_side_by_side_equals_one_hold_when_every_gap_starts_a_note():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(3, 2, 60, generator=g, requires_grad=True)
    onsets = (torch.rand(3, 60, generator=g) < 0.2).float()
    onsets[:, ::20] = 1.0  # every gap of 20 frames starts a note
    together, side_by_side = hold_notes(values, onsets), hold_notes_per_gap(values, onsets, 20)
    assert torch.equal(together, side_by_side)
    (grad_together,) = torch.autograd.grad(together.pow(2).sum(), values)
    (grad_side,) = torch.autograd.grad(side_by_side.pow(2).sum(), values)
    assert torch.allclose(grad_together, grad_side)
    onsets[:, 20] = 0.0  # a note that crosses a gap's start: the two differ
    assert not torch.equal(hold_notes(values, onsets), hold_notes_per_gap(values, onsets, 20))


def test_note_features_say_where_each_note_started_and_how_long_ago():
    onsets = torch.tensor([[0.0, 0, 1, 0, 0, 0, 1, 0]], requires_grad=True)  # frame 0 starts a note by definition
    voicing = torch.tensor([[[1.0, 1, 0, 0, 0, 0, 1, 1]]])
    feats = note_features(onsets, voicing)
    assert feats.shape == (1, 5, 8)
    since = torch.tensor([0.0, 1, 0, 1, 2, 3, 0, 1])
    for k, tau in enumerate((2.0, 8.0, 32.0)):
        assert torch.allclose(feats[0, 2 + k], torch.exp(-since / tau))
    assert torch.equal(feats[0, 1], voicing[0, 0])
    feats[0, 0].sum().backward()  # the onset channel passes the clock's straight-through gradient on
    assert onsets.grad.tolist() == [[1.0] * 8]


def test_performed_loudness_keeps_windows_exact_and_learns_from_the_notes():
    cfg = SongGANConfig(**ch8.HELD_DEGREES, perform_notes=True)
    long, windows = long_pass_and_windows(cfg, 3)
    assert torch.allclose(long, windows, atol=1e-5)
    g = SongGenerator(cfg)
    g(torch.randn(2, cfg.latent_size))[:, 2].sum().backward()  # the loudness channel
    assert g.perform[0].weight.grad[:, -5:].abs().sum() > 0  # it reads the note features
    with pytest.raises(ValueError, match="perform_notes needs note_hold"):
        SongGANConfig(perform_notes=True)
