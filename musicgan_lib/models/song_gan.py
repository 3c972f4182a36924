"""Chapter 8's GAN: it writes songs as sequences of frame encodings (pitch, loudness, timbre z).

**What a frame looks like to the GAN.** The song autoencoder writes 50 frames a second of
(f0, loudness, z). Loudness is scaled to about -1..1 and z is standardised. The frame's f0 is
written in one of two ways (`SongGANConfig.pitch_mode`): a one-hot over semitones plus a "no
pitch" bin -- the same 1/12-octave grid CREPE's pitch output uses -- from which the decoded pitch
is the most likely bin; or, as the shipped generator does (`recipes.song_gan.HELD_DEGREES`),
voicing and pitch as one number each, the pitch a scale degree of a key the song picks, held
from one onset to the next, the onsets from a clock whose rate the generator writes. The
generator never sees notes, MIDI or a score: pitch, rhythm, phrasing and timbre are all frames
it writes.

**Songs of any length without seams (after Musika).** A window of `window_frames` frames
(8 s) is made from random *anchor* vectors placed every `anchor_every` frames (2 s, both
ends included), linearly interpolated along time, plus one *style* vector for the song. The
generator is convolutional over time with a receptive field shorter than one anchor gap, and
every window is generated with one extra anchor on each side that is cropped away. So a
frame depends only on the anchors within one gap of it: neighbouring windows that share
their border anchors produce exactly the frames one long pass over all the anchors produces,
and a 60-second song is just a longer anchor sequence (`generate_song`), with no join to hear.

Shapes: anchors [B, A, anchor_dim] with A = window_frames / anchor_every + 3; style
[B, style_dim]; frames [B, C, T] with C = n_pitches + 2 + latent_dim (one-hot pitch) or
3 + latent_dim (`pitch_mode="continuous"`: voicing and pitch as one number each).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..audio.synth import hz_to_midi, midi_to_hz
from ..data.melodies import Melody
from ..data.song_clips import SongClips, render_clips
from ..weights import load_weights, read_weights_meta, save_weights, weights_path
from .song_autoencoder import SongAutoencoder, SongEncoding, encode_clips, fill_unvoiced

ASSET_PATH = weights_path("song_gan", None)  # one shipped model for every profile
MAKE_SCRIPT = "scripts/make_song_models.py --only gan"
KIND = "song_gan"


@dataclass(frozen=True)
class SongGANConfig:
    """Sizes of the song GAN (stored with its weights). Defaults are the quick profile."""

    # -- the frame layout
    lowest_pitch: int = 40  # MIDI of the first pitch bin (E2)
    n_pitches: int = 57  # semitone bins: MIDI 40..96, plus one "no pitch" bin
    latent_dim: int = 8  # z numbers per frame (the autoencoder's)
    # -- windows and anchors
    window_frames: int = 400  # frames per training window (8 s at 50 frames/s)
    anchor_every: int = 100  # frames between anchors (2 s); a multiple of 4
    anchor_dim: int = 32  # numbers per anchor
    style_dim: int = 32  # numbers of the per-song style vector
    # -- networks
    channels: int = 64  # width of the generator and critic convolutions (a 2-core CPU trains this in ~30 min)
    # how the critic sees generated pitch: False, the softmax probabilities (the critic can then tell
    # fakes by their softness alone); True, a one-hot of the most likely pitch whose gradient is the
    # softmax's (straight-through), so only the melody itself can give a fake away
    hard_pitch: bool = False
    # how pitch is written: "onehot", a softmax over semitone bins (above); or "continuous", one
    # voicing channel (sigmoid, > 0.5 = voiced) and one pitch channel in octaves around the middle of
    # the range, rounded to the semitone when decoded. Then "one semitone up" is a small change of
    # the generator's output and "seven up" a big one, which the one-hot cannot say. The critic sees
    # real frames dequantized (`FrameCodec.dequantize`) so rounding itself gives no fake away.
    pitch_mode: str = "onehot"
    # what the critic is given besides the frames: False, the frames alone; True, also the melody's
    # intervals and key written out (`interval_features`): which semitone step leads into each frame
    # from 0.2 s before, which pitch class lies 1 s before, and the frame's pitch class. A strided
    # convolution over 58 one-hot channels must learn 58 x 58 pairs to tell a step from a leap; these
    # channels say it directly, so the critic can hold the generator to the corpus's steps and scales.
    critic_intervals: bool = False
    # how the generator chooses pitches: False, straight onto the absolute semitone bins (every frame
    # must agree on a key with its neighbours through the latents alone); True, the song first picks
    # one of 12 tonics from its style vector (a one-hot, straight-through), and the frames write
    # semitones *above that tonic* (`key_span` bins). One pattern of scale degrees then serves every
    # key, and a song cannot drift out of its key by accident. The critic still sees absolute pitch.
    key_pitch: bool = False
    # the critic also reads each window's pitch-class histogram, sorted (most used class first, so any key
    # looks the same): 12 numbers that say at once whether a window uses the seven classes of a scale or
    # holds one or two (a drone), which strided convolutions averaged over 8 s see only indirectly
    critic_histogram: bool = False
    # with pitch_mode="continuous": the generator also writes an onset channel, and voicing and pitch are
    # *held* from one onset to the next (`hold_notes` at `threshold_onsets`). The one-hot leaps and the free continuous
    # pitch glides; a held continuous pitch can do neither: a note keeps its pitch, and the next note's
    # pitch is a small change of the output when it is a small step. The critic sees real frames
    # dequantized once per note (`FrameCodec.dequantize`), so a held fake is not told by its steadiness.
    # A held note may start before the margin, so windows equal the long pass only where a note starts
    # within the margin's 2 s; a song (`generate_song`) is one pass either way. Measured (docs/experiments/
    # 08_songs.md, attempts 7-8): part of the latent space learns to write no onsets at all (drones).
    note_hold: bool = False
    # with note_hold: the held pitch number is a *scale degree* (1.0 = an octave = 7 degrees), and the song's
    # style picks a tonic (12) and a mode (major or natural minor), straight-through one-hots. A degree is
    # rounded and written as the semitone of that key's scale (`on_scale`), and voicing is rounded to 0 or
    # 1, so generated frames are exact, as real ones are (no dequantization). A step is one degree, one
    # or two semitones; a note outside the song's key cannot be written at all (the corpus has ~2 % such
    # notes): a prior the GAN is given, not a thing it learns, so its scale consistency is no achievement.
    scale_degrees: bool = False
    # with note_hold: *when* notes start comes from a clock, not a threshold. The onset channel is a rate (one
    # note per `longest_note_frames` up to one per `shortest_note_frames`, on a log scale), a phase adds it up
    # frame by frame, and a note starts each time the phase passes a whole number (`clock_onsets`). A threshold
    # gate can die: logits far below 0 get no gradient, and a third of attempt 8's windows became one held
    # note. A clock cannot stop: at its slowest it still starts a note every 4 s, and every onset passes the
    # critic's gradient on to the pitch written there. Backward, an onset is its rate (straight-through).
    onset_clock: bool = False
    longest_note_frames: int = 200  # the clock's slowest rate: a note every 4 s
    shortest_note_frames: int = 6  # its fastest: a note every 0.12 s (sixteenths at 125 bpm)
    # with onset_clock: False, one clock runs through the whole song from the first anchor's phase (a window's
    # clock starts at its own first anchor, so windows are not pieces of the long pass); True, the clock restarts
    # at every anchor, with that anchor's phase, and a note starts there. Then every frame depends only on its
    # own anchor gap, and windows equal the long pass exactly, as for the one-hot generator. The note at an
    # anchor may keep the pitch it had: re-starting a note at the same pitch is not heard.
    clock_per_anchor: bool = False
    # with note_hold: loudness and z are written *after* the notes, from the generator's features and the notes
    # (`note_features`: where each note starts and how long ago), one frame at a time. Without it they come from
    # the same layer as the onsets and cannot see where the clock fires (the phase is summed after the network),
    # so a real note's attack, which comes with its pitch change, cannot be matched to the generated pitch.
    # Measured (docs/experiments/08_songs.md, attempt 11): more notes, not fewer (1.85 a second against 1.11).
    perform_notes: bool = False

    def __post_init__(self) -> None:
        if self.perform_notes and not self.note_hold:
            raise ValueError("perform_notes needs note_hold=True (loudness and z are written around held notes)")
        if self.onset_clock and not self.note_hold:
            raise ValueError("onset_clock needs note_hold=True (the clock decides where held notes start)")
        if self.clock_per_anchor and not self.onset_clock:
            raise ValueError("clock_per_anchor needs onset_clock=True")
        if not 1 < self.shortest_note_frames < self.longest_note_frames:
            raise ValueError(
                f"need 1 < shortest_note_frames ({self.shortest_note_frames}) < longest_note_frames "
                f"({self.longest_note_frames})"
            )
        if self.pitch_mode not in ("onehot", "continuous"):
            raise ValueError(f"pitch_mode must be 'onehot' or 'continuous', got {self.pitch_mode!r}")
        if self.scale_degrees and not self.note_hold:
            raise ValueError("scale_degrees needs note_hold=True (degrees are held from one onset to the next)")
        if self.note_hold and self.pitch_mode != "continuous":
            raise ValueError("note_hold needs pitch_mode='continuous' (it holds the voicing and pitch numbers)")
        if self.critic_histogram and self.pitch_mode != "onehot":
            raise ValueError("critic_histogram needs pitch_mode='onehot' (it reads the per-semitone probabilities)")
        if self.key_pitch and (self.pitch_mode != "onehot" or self.n_pitches <= 12):
            raise ValueError("key_pitch needs pitch_mode='onehot' and more than 12 pitch bins (tonic + span)")
        if self.critic_intervals and self.pitch_mode != "onehot":
            raise ValueError("critic_intervals needs pitch_mode='onehot' (it reads the per-semitone probabilities)")
        if self.anchor_every % 4 or self.anchor_every < 20 or self.window_frames % self.anchor_every:
            raise ValueError(
                f"anchor_every ({self.anchor_every}) must be a multiple of 4, at least 20, that divides "
                f"window_frames ({self.window_frames})"
            )

    @property
    def pitch_channels(self) -> int:
        """Channels that write pitch: no-pitch + semitone bins, or voicing + pitch."""
        return self.n_pitches + 1 if self.pitch_mode == "onehot" else 2

    @property
    def frame_channels(self) -> int:
        return self.pitch_channels + 1 + self.latent_dim  # pitch, loudness, z

    @property
    def key_span(self) -> int:
        """With `key_pitch`: semitone bins above the tonic (tonic 0..11 + span = the absolute bins)."""
        return self.n_pitches - 11

    @property
    def head_channels(self) -> int:
        """Channels the generator's last layer writes: the frame, or with `key_pitch` the frame's
        no-pitch + `key_span` relative bins in place of the absolute ones; with `note_hold` one more, the
        onset logits (last channel; with `onset_clock`, the clock's rate logits)."""
        return self.frame_channels - (11 if self.key_pitch else 0) + (1 if self.note_hold else 0)

    @property
    def centre_pitch(self) -> float:
        """The MIDI pitch written as 0 in continuous mode: the middle of the range."""
        return self.lowest_pitch + (self.n_pitches - 1) / 2

    @property
    def anchors_per_window(self) -> int:
        return self.window_frames // self.anchor_every + 3  # both ends, plus one cropped on each side

    @property
    def latent_size(self) -> int:
        return self.anchors_per_window * self.anchor_dim + self.style_dim


class FrameCodec:
    """Converts between the autoencoder's encoding and the GAN's frames (see the module docstring).

    `z_mean`, `z_std` [Z] standardise z (from the training set).
    """

    def __init__(self, cfg: SongGANConfig, z_mean: Tensor, z_std: Tensor) -> None:
        self.cfg, self.z_mean, self.z_std = cfg, z_mean.float(), z_std.float().clamp(min=1e-4)

    def to_frames(self, f0_hz: Tensor, loudness_db: Tensor, z: Tensor) -> Tensor:
        """f0 [B, T] (0 = no pitch), loudness [B, T] dB, z [B, T, Z] -> frames [B, C, T]."""
        cfg = self.cfg
        voiced = f0_hz > 0
        if cfg.pitch_mode == "onehot":
            midi = torch.round(hz_to_midi(f0_hz.clamp(min=1.0))).long()
            bins = torch.where(voiced, (midi - cfg.lowest_pitch).clamp(0, cfg.n_pitches - 1) + 1, 0)
            pitch = F.one_hot(bins, cfg.n_pitches + 1).float()  # [B, T, K + 1]
        else:  # unvoiced frames hold the last pitch, so the pitch line has no jumps to invent
            midi = torch.round(hz_to_midi(fill_unvoiced(f0_hz))).clamp(
                cfg.lowest_pitch, cfg.lowest_pitch + cfg.n_pitches - 1
            )
            pitch = torch.stack([voiced.float(), (midi - cfg.centre_pitch) / 12.0], dim=-1)  # [B, T, 2]
        loud = ((loudness_db.clamp(min=-80.0) + 40.0) / 30.0).unsqueeze(-1)
        zs = (z - self.z_mean) / self.z_std
        return torch.cat([pitch, loud, zs], dim=-1).transpose(1, 2)

    def dequantize(self, frames: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Real frames [B, C, T] as the critic sees them in continuous mode: voicing 1 -> U(0.5, 1),
        0 -> U(0, 0.5), pitch + U(-0.5, 0.5) semitones. Decoding (threshold, rounding) gives the
        frames back exactly, and the critic cannot tell a fake by its pitch not being a whole
        semitone (the generator's output is continuous). With `note_hold` the two draws are made once per
        run of equal frames (a note or a rest). One-hot frames are returned as they are."""
        if self.cfg.pitch_mode == "onehot" or self.cfg.scale_degrees:  # exact frames on both sides
            return frames
        u = torch.rand(frames.shape[0], 2, frames.shape[2], generator=generator).to(frames)
        if self.cfg.note_hold:  # one draw per run of equal (voicing, pitch): a note stays steady, as a held fake is
            changed = (frames[:, :2, 1:] != frames[:, :2, :-1]).any(1)  # [B, T - 1]
            run = F.pad(changed.long(), (1, 0)).cumsum(1)  # [B, T]: which run each frame is in
            u = u.gather(2, run[:, None].expand(-1, 2, -1))
        voicing = 0.5 * frames[:, :1] + 0.5 * u[:, :1]
        pitch = frames[:, 1:2] + (u[:, 1:2] - 0.5) / 12.0
        return torch.cat([voicing, pitch, frames[:, 2:]], dim=1)

    def from_frames(self, frames: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """frames [B, C, T] -> (f0_hz [B, T] with 0 for "no pitch", loudness_db [B, T], z [B, T, Z])."""
        cfg = self.cfg
        k = cfg.pitch_channels
        x = frames.transpose(1, 2)
        if cfg.pitch_mode == "onehot":
            bins = x[..., :k].argmax(-1)
            f0 = torch.where(bins > 0, midi_to_hz((bins - 1 + cfg.lowest_pitch).float()), torch.zeros_like(x[..., 0]))
        else:
            midi = torch.round(x[..., 1] * 12.0 + cfg.centre_pitch).clamp(
                cfg.lowest_pitch, cfg.lowest_pitch + cfg.n_pitches - 1
            )
            f0 = torch.where(x[..., 0] > 0.5, midi_to_hz(midi), torch.zeros_like(midi))
        loud = x[..., k] * 30.0 - 40.0
        z = x[..., k + 1 :] * self.z_std + self.z_mean
        return f0, loud, z


class _Block(nn.Module):
    """Residual dilated conv over time: x + conv(gelu(conv(x)))."""

    def __init__(self, c: int, dilation: int) -> None:
        super().__init__()
        self.a = nn.Conv1d(c, c, 5, padding=2 * dilation, dilation=dilation)
        self.b = nn.Conv1d(c, c, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.b(F.gelu(self.a(F.gelu(x))))


def anchor_coordinates(anchors: Tensor, gap: int) -> Tensor:
    """anchors [B, A, D] -> coordinates [B, D, (A - 1) * gap]: a straight line from each anchor to the next,
    `gap` steps per line (the next anchor starts the next line). The same anchor gives the same
    coordinates whichever window it belongs to -- which is what lets windows join without a seam."""
    n = (anchors.shape[1] - 1) * gap
    return F.interpolate(anchors.transpose(1, 2), size=n + 1, mode="linear", align_corners=True)[..., :-1]


def coarse_dilations(gap: int) -> list[int]:
    """Dilations 1, 2, 4, 1, 2, 4, ... of kernel-5 blocks while their reach (2 x the sum, plus about 2
    coarse frames for the upsampling layers) stays inside one anchor gap of `gap` coarse frames."""
    out: list[int] = []
    for d in (1, 2, 4) * 4:
        if 2 * (sum(out) + d) + 3 > gap:
            break
        out.append(d)
    return out or [1]


class SongGenerator(nn.Module):
    """latents [B, latent_size] (anchors + style, flat) -> frames [B, C, window_frames]; `frames_from` for any length.

    Runs at a quarter of the frame rate (12.5/s) over the interpolated anchors, then doubles
    the rate twice. The coarse blocks' dilations are chosen (`coarse_dilations`) so that a frame
    sees less than the one anchor gap of margin (default: +-20 coarse frames, 80 frames, plus +-7
    frames after upsampling, of a 100-frame gap), so windows are exact pieces of a long pass.
    """

    def __init__(self, cfg: SongGANConfig) -> None:
        super().__init__()
        self.cfg, self.config = cfg, asdict(cfg)
        c = cfg.channels
        self.inp = nn.Conv1d(cfg.anchor_dim + cfg.style_dim, c, 1)
        self.coarse = nn.Sequential(*(_Block(c, d) for d in coarse_dilations(cfg.anchor_every // 4)))
        self.up = nn.ModuleList(nn.Conv1d(c, c, 5, padding=2) for _ in range(2))
        self.head = nn.Conv1d(c, cfg.head_channels, 3, padding=1)
        if cfg.key_pitch or cfg.scale_degrees:
            self.key_head = nn.Linear(cfg.style_dim, 12)  # style -> logits of the song's tonic
        if cfg.scale_degrees:
            self.mode_head = nn.Linear(cfg.style_dim, 2)  # style -> logits of major / natural minor
        if cfg.perform_notes:  # per frame (kernel 1), so a frame's loudness reads no note outside its own gap
            self.perform = nn.Sequential(
                nn.Conv1d(c + NOTE_FEATURES, c, 1), nn.GELU(), nn.Conv1d(c, 1 + cfg.latent_dim, 1)
            )

    def split(self, latents: Tensor) -> tuple[Tensor, Tensor]:
        """[B, latent_size] -> (anchors [B, A, anchor_dim], style [B, style_dim])."""
        cfg = self.cfg
        return latents[:, cfg.style_dim :].view(len(latents), -1, cfg.anchor_dim), latents[:, : cfg.style_dim]

    def frames_from(self, anchors: Tensor, style: Tensor) -> Tensor:
        """anchors [B, A, anchor_dim] (A >= 3), style [B, style_dim] -> frames [B, C, (A - 3) * anchor_every].

        The first and last anchor gaps are margin: computed, then cropped.
        """
        cfg = self.cfg
        coords = anchor_coordinates(anchors, cfg.anchor_every // 4)  # [B, anchor_dim, coarse frames]
        x = torch.cat([coords, style[:, :, None].expand(-1, -1, coords.shape[-1])], dim=1)
        x = self.coarse(self.inp(x))
        for conv in self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = x + conv(F.gelu(x))
        out = self.head(F.gelu(x))
        if cfg.note_hold:  # held over the margins too, so a note that starts there carries into the window
            values = torch.cat([torch.sigmoid(out[:, :1]), out[:, 1:2]], dim=1)  # [B, 2, T]: voicing, pitch
            onsets = self.clock(out[:, -1], anchors) if cfg.onset_clock else threshold_onsets(out[:, -1])
            if cfg.clock_per_anchor:  # every gap starts a note, so the gaps are held side by side
                held = hold_notes_per_gap(values, onsets, cfg.anchor_every)
            else:
                held = hold_notes(values, onsets)
            if cfg.scale_degrees:
                held = self.on_scale(held, style)
            performed = out[:, 2:-1]  # [B, 1 + Z, T]: loudness and z
            if cfg.perform_notes:
                performed = self.perform(torch.cat([F.gelu(x), note_features(onsets, held[:, :1])], dim=1))
            return torch.cat([held, performed], dim=1)[..., cfg.anchor_every : -cfg.anchor_every]
        out = out[..., cfg.anchor_every : -cfg.anchor_every]  # crop one gap each side
        if cfg.pitch_mode == "continuous":  # voicing in 0..1, pitch as it is
            return torch.cat([torch.sigmoid(out[:, :1]), out[:, 1:]], dim=1)
        if cfg.key_pitch:
            k = cfg.key_span + 1
            probs = key_shift(torch.softmax(out[:, :k], dim=1), self.song_key(style))
        else:
            k = cfg.n_pitches + 1
            probs = torch.softmax(out[:, :k], dim=1)
        if cfg.hard_pitch:
            hard = F.one_hot(probs.argmax(1), k).transpose(1, 2).to(probs.dtype)
            probs = hard + probs - probs.detach()  # forward: one-hot; backward: the softmax's gradient
        return torch.cat([probs, out[:, k:]], dim=1)

    def forward(self, latents: Tensor) -> Tensor:
        """latents [B, latent_size] -> frames [B, C, window_frames]."""
        return self.frames_from(*self.split(latents))

    def clock(self, rate_logits: Tensor, anchors: Tensor) -> Tensor:
        """rate_logits [B, T], anchors [B, A, anchor_dim] (T = (A - 1) * anchor_every) -> onsets [B, T] (`onset_clock`).

        The clock's starting phase is an anchor's first number, N(0, 1) -> U(0, 1): the first anchor's for one clock
        over the whole stretch, or with `clock_per_anchor` each anchor's for the gap it starts, where a note starts.
        """
        cfg = self.cfg
        phase = 0.5 * (1 + torch.erf(anchors[:, :-1, 0] / math.sqrt(2)))  # [B, A - 1]
        if not cfg.clock_per_anchor:
            return clock_onsets(rate_logits, phase[:, 0], cfg.shortest_note_frames, cfg.longest_note_frames)
        b, gaps = phase.shape
        per_gap = rate_logits.reshape(b * gaps, cfg.anchor_every)
        onsets = clock_onsets(per_gap, phase.reshape(-1), cfg.shortest_note_frames, cfg.longest_note_frames)
        first = torch.zeros_like(onsets)
        first[:, 0] = 1.0 - onsets[:, 0].detach()  # forward exactly 1 at each anchor, the rate's gradient kept
        return (onsets + first).reshape(b, gaps * cfg.anchor_every)

    def song_mode(self, style: Tensor) -> Tensor:
        """style [B, style_dim] -> [B, 2]: one-hot of major (0) or natural minor (1), straight-through (`scale_degrees`)."""
        return _straight_through_choice(self.mode_head(style))

    def on_scale(self, held: Tensor, style: Tensor) -> Tensor:
        """held [B, 2, T] (voicing in 0..1, pitch as scale degrees: 1.0 = 7 degrees) -> [B, 2, T] exact frames:
        voicing 0 or 1, and pitch the semitone of the song's key (`song_key`, `song_mode`) in the frame layout's
        octaves around `centre_pitch`. Degree 0 is the tonic above middle C's octave (MIDI 60 + tonic).

        Both are rounded forward and passed straight through backward: the gradient of the pitch is that of
        the straight line `degree * 12 / 7 semitones` (plus the tonic), so a critic's wish for "a little higher"
        reaches the degree, and its wish for another key reaches the key's logits."""
        cfg = self.cfg
        voicing, degree = held[:, :1], held[:, 1:2]
        voicing = (voicing > 0.5).to(voicing) + (voicing - voicing.detach())  # forward exactly 0 or 1
        key, mode = self.song_key(style), self.song_mode(style)  # [B, 12], [B, 2]
        tonic = (key * torch.arange(12, device=key.device, dtype=key.dtype)).sum(1)[:, None, None]  # [B, 1, 1]
        n = torch.round(degree.detach() * 7).long()  # whole degrees
        octave, step = torch.div(n, 7, rounding_mode="floor"), torch.remainder(n, 7)
        top = cfg.lowest_pitch + cfg.n_pitches - 1
        exact = torch.stack(  # [B, 2, 1, T]: the frame's pitch if the song were major / minor
            [
                (60 + tonic.detach() + 12 * octave + MODE_SCALES[m].to(n.device)[step]).clamp(cfg.lowest_pitch, top)
                for m in (0, 1)
            ],
            dim=1,
        ).to(degree.dtype)
        exact = (exact - cfg.centre_pitch) / 12
        # forward: the pitch in the song's mode; backward: d pitch / d mode is each mode's pitch
        chosen = (mode[:, :, None, None] * exact).sum(1)
        straight = degree + (60 + tonic - cfg.centre_pitch) / 12  # [B, 1, T]: the line the gradient follows
        pitch = chosen.detach() + (straight - straight.detach()) + (chosen - chosen.detach())  # forward: exact
        return torch.cat([voicing, pitch], dim=1)

    def song_key(self, style: Tensor) -> Tensor:
        """style [B, style_dim] -> the song's tonic [B, 12]: a one-hot of the most likely of 12 (needs
        `key_pitch` or `scale_degrees`), whose gradient is the softmax's (straight-through), so training can move a style's key."""
        return _straight_through_choice(self.key_head(style))


def _straight_through_choice(logits: Tensor) -> Tensor:
    """logits [B, K] -> one-hot [B, K] of the most likely, exactly, with the softmax's gradient (straight-through)."""
    soft = torch.softmax(logits, dim=1)
    return F.one_hot(soft.argmax(1), logits.shape[1]).to(soft.dtype) + (soft - soft.detach())


MODE_SCALES = torch.tensor([[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]])  # major, natural minor


def threshold_onsets(onset_logits: Tensor) -> Tensor:
    """onset_logits [B, T] -> onsets [B, T]: forward exactly 1 where the logit is > 0, else 0; backward the
    sigmoid's gradient (straight-through), which vanishes once logits are far below 0."""
    soft = torch.sigmoid(onset_logits)
    return (onset_logits > 0).to(soft) + (soft - soft.detach())


def clock_onsets(rate_logits: Tensor, phase: Tensor, shortest: int, longest: int) -> Tensor:
    """rate_logits [B, T], phase [B] in [0, 1) -> onsets [B, T]: forward exactly 1 where a note starts, else 0.

    The rate is one note per `longest` frames at logit -inf up to one per `shortest` at +inf, geometric in
    between (note lengths are multiplicative: a half note is two quarters). The phase starts at `phase` and adds
    the rate every frame; a note starts where it passes a whole number, so notes keep coming at the slowest rate
    whatever the logits (a threshold's notes stop where its logits sink). Backward, an onset is the frame's rate
    (the expected number of onsets in it), so its gradient says where more or fewer notes would help.
    """
    slow, fast = 1.0 / longest, 1.0 / shortest
    rate = slow * (fast / slow) ** torch.sigmoid(rate_logits)  # [B, T] notes per frame, below 1
    passed = torch.floor(phase[:, None] + rate.cumsum(1))  # whole numbers passed by the end of each frame
    onsets = torch.diff(passed, dim=1, prepend=torch.floor(phase)[:, None])
    return onsets.detach() + (rate - rate.detach())


def hold_notes(values: Tensor, onsets: Tensor) -> Tensor:
    """values [B, C, T], onsets [B, T] (forward 0 or 1) -> held values [B, C, T]: each frame repeats the values
    of the last frame with an onset (frame 0 always starts a note).

    Forward, the output is piecewise constant: a note. Backward, held_t = o_t * values_t + (1 - o_t) * held_(t-1)
    with the onsets' straight-through gradient, so that gradient tells an onset how much starting a note there
    would change the output (values_t - held_(t-1)). A Python loop over T frames.
    """
    held = values[..., 0]
    out = [held]
    for t in range(1, values.shape[-1]):
        o = onsets[:, t, None]
        held = o * values[..., t] + (1 - o) * held
        out.append(held)
    return torch.stack(out, dim=-1)


NOTE_TIMES = (2.0, 8.0, 32.0)  # frames: how fast each of `note_features`' "since the onset" channels decays
NOTE_FEATURES = 2 + len(NOTE_TIMES)


def note_features(onsets: Tensor, voicing: Tensor) -> Tensor:
    """onsets [B, T] (forward 0 or 1; frame 0 starts a note), held voicing [B, 1, T] -> [B, NOTE_FEATURES, T]:
    the onset, the voicing, and exp(-frames since the onset / tau) for each tau of `NOTE_TIMES` (an attack, a
    decay, a long note's sustain). A frame's features depend on no frame after it nor before its note's onset."""
    t = torch.arange(onsets.shape[1], device=onsets.device).expand_as(onsets)
    started = torch.where(onsets.detach() > 0.5, t, torch.zeros_like(t)).cummax(1).values  # [B, T]: the note's onset
    since = (t - started).to(onsets.dtype)
    decays = [torch.exp(-since / tau) for tau in NOTE_TIMES]
    return torch.stack([onsets, voicing[:, 0], *decays], dim=1)


def hold_notes_per_gap(values: Tensor, onsets: Tensor, gap: int) -> Tensor:
    """values [B, C, T], onsets [B, T] with an onset at every multiple of `gap` (T a multiple of it) -> held
    values [B, C, T], equal to `hold_notes(values, onsets)`: no note crosses a gap's start, so the T / gap gaps
    are held as one batch, a Python loop of `gap` frames instead of T (1.6x faster generator steps)."""
    b = len(values)
    per_gap = values.unflatten(2, (-1, gap)).transpose(1, 2).flatten(0, 1)  # [B * gaps, C, gap]
    held = hold_notes(per_gap, onsets.reshape(-1, gap))
    return held.unflatten(0, (b, -1)).transpose(1, 2).flatten(2)


def key_shift(relative: Tensor, key: Tensor) -> Tensor:
    """Pitch written above a tonic -> absolute pitch bins.

    relative [B, 1 + S, T] (bin 0 = no pitch, bin 1 + r = r semitones above the tonic), key [B, 12]
    (one-hot tonic; soft weights mix the shifts) -> probabilities [B, 1 + S + 11, T] over no pitch and
    the absolute semitone bins, bin 1 + r + tonic.
    """
    voiced = relative[:, 1:]
    shifted = sum(key[:, s, None, None] * F.pad(voiced, (0, 0, s, 11 - s)) for s in range(12))
    return torch.cat([relative[:, :1], shifted], dim=1)


STEP_LAG = 10  # frames (0.2 s) between the two pitches of `interval_features`' semitone steps
KEY_LAG = 50  # frames (1 s) between the two pitch classes of its key channels
MAX_STEP = 12  # semitone steps counted: -12..12 (an octave either way)
INTERVAL_CHANNELS = (2 * MAX_STEP + 1) + 12 + 12


def _lagged(x: Tensor, lag: int) -> Tensor:
    """x [B, K, T] -> x delayed by `lag` frames, zeros (no pitch) before the start."""
    return F.pad(x, (lag, 0))[..., : x.shape[-1]]


def pitch_class_probs(pitch_probs: Tensor, lowest_pitch: int) -> Tensor:
    """pitch_probs [B, 1 + K, T] (bin 0 = no pitch, bin k = MIDI lowest_pitch + k - 1) -> chroma [B, 12, T]:
    each frame's probability of each pitch class (C = 0), summed over octaves; 0 everywhere when unvoiced."""
    q = pitch_probs[:, 1:]
    classes = (torch.arange(q.shape[1], device=q.device) + lowest_pitch) % 12
    return torch.zeros(q.shape[0], 12, q.shape[2], dtype=q.dtype, device=q.device).index_add(1, classes, q)


def interval_features(pitch_probs: Tensor, lowest_pitch: int) -> Tensor:
    """The melody's steps and key as channels: pitch_probs [B, 1 + K, T] (bin 0 = no pitch, bin k = MIDI
    lowest_pitch + k - 1) -> features [B, 25 + 12 + 12, T]:

    - steps [B, 25, T]: channel MAX_STEP + j is the probability that the pitch moved up j semitones from
      STEP_LAG frames earlier, sum_k p_t(k) p_{t-lag}(k - j), j = -12..12 (j = 0: the note is held);
    - key [B, 12, T]: channel i is the probability that the pitch class is i above the one KEY_LAG frames
      earlier (same product over pitch classes);
    - chroma [B, 12, T]: the frame's pitch-class probabilities (C = 0).

    For one-hot frames every channel is 0 or 1; for a generator's softmax it is the expected count,
    so its gradient says which probabilities to move to make a step out of a leap."""
    q = pitch_probs[:, 1:]  # [B, K, T]
    k = q.shape[1]
    before = _lagged(q, STEP_LAG)
    steps = []
    for j in range(-MAX_STEP, MAX_STEP + 1):  # pitch k now, pitch k - j before
        if j >= 0:
            steps.append((q[:, j:] * before[:, : k - j]).sum(1))
        else:
            steps.append((q[:, : k + j] * before[:, -j:]).sum(1))
    chroma = pitch_class_probs(pitch_probs, lowest_pitch)
    earlier = _lagged(chroma, KEY_LAG)
    key = [(chroma * torch.roll(earlier, i, dims=1)).sum(1) for i in range(12)]  # class c now, c - i before
    return torch.cat([torch.stack(steps, 1), torch.stack(key, 1), chroma], dim=1)


class SongCritic(nn.Module):
    """frames [B, C, T] -> score [B]: strided convolutions over time, then the mean over what is left.

    With `cfg.critic_intervals` the frames are first joined by their `interval_features` [B, 49, T]."""

    def __init__(self, cfg: SongGANConfig) -> None:
        super().__init__()
        self.cfg, c = cfg, cfg.channels
        c_in = cfg.frame_channels + (INTERVAL_CHANNELS if cfg.critic_intervals else 0)
        layers: list[nn.Module] = [nn.Conv1d(c_in, c, 5, padding=2), nn.LeakyReLU(0.2)]
        for _ in range(4):  # 50 -> 3.1 frames/s: phrases of a few seconds per output position
            layers += [nn.Conv1d(c, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers, nn.Conv1d(c, c, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Linear(c + (12 if cfg.critic_histogram else 0), 1)

    def forward(self, frames: Tensor) -> Tensor:
        """frames [B, C, T] -> score [B]."""
        probs = frames[:, : self.cfg.pitch_channels]
        if self.cfg.critic_intervals:
            frames = torch.cat([frames, interval_features(probs, self.cfg.lowest_pitch)], dim=1)
        pooled = self.net(frames).mean(-1)  # [B, c]
        if self.cfg.critic_histogram:
            pooled = torch.cat([pooled, sorted_pitch_class_histogram(probs, self.cfg.lowest_pitch)], dim=1)
        return self.out(pooled).squeeze(-1)


def sorted_pitch_class_histogram(pitch_probs: Tensor, lowest_pitch: int) -> Tensor:
    """pitch_probs [B, 1 + K, T] (bin 0 = no pitch) -> [B, 12]: the share of voiced frames in each pitch class,
    largest first. Sorting forgets the key, so a critic reading it judges only how the window spreads over
    the classes (a scale's seven, or a drone's one or two); the sort passes gradients to the values."""
    chroma = pitch_class_probs(pitch_probs, lowest_pitch).sum(-1)  # [B, 12]: expected frames per class
    share = chroma / chroma.sum(1, keepdim=True).clamp(min=1e-6)
    return share.sort(dim=1, descending=True).values


def gaussian_frames(train_frames: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """The trivial baseline: frames [n, C, T] drawn independently, each from one Gaussian fitted to every
    training frame of `train_frames` [N, C, T] (right averages and correlations within a frame, no time)."""
    x = train_frames.transpose(1, 2).reshape(-1, train_frames.shape[1]).double()
    mean, cov = x.mean(0), torch.cov(x.T) + 1e-6 * torch.eye(x.shape[1], dtype=torch.float64)
    noise = torch.randn(n * train_frames.shape[2], x.shape[1], generator=generator, dtype=torch.float64)
    samples = mean + noise @ torch.linalg.cholesky(cov).T
    return samples.float().view(n, train_frames.shape[2], -1).transpose(1, 2).contiguous()


def song_anchors(n_windows: int, cfg: SongGANConfig, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Random anchors [1, n_windows * (window/anchor_every) + 3, anchor_dim] and style [1, style_dim] for one song."""
    per = cfg.window_frames // cfg.anchor_every
    anchors = torch.randn(1, n_windows * per + 3, cfg.anchor_dim, generator=generator)
    return anchors, torch.randn(1, cfg.style_dim, generator=generator)


def window_latents(anchors: Tensor, style: Tensor, cfg: SongGANConfig) -> Tensor:
    """The flat latents of each window of a song, [n_windows, latent_size].

    anchors [B, A, anchor_dim] (A = W * per + 3), style [B, style_dim] -> [W * B, L] (L = cfg.latent_size),
    window by window; W = n_windows, and B = 1 for one song (`song_anchors`) gives [W, L].

    Window i takes anchors i*per .. i*per + per + 2 (per = window / anchor_every); its last three
    are the next window's first three, so each window continues the one before it.
    """
    per = cfg.window_frames // cfg.anchor_every
    n = (anchors.shape[1] - 3) // per
    wins = [anchors[:, i * per : i * per + per + 3].flatten(1) for i in range(n)]
    return torch.cat([torch.cat([style, w], dim=1) for w in wins])


@dataclass
class ShippedSongGAN:
    """A saved song GAN: the (EMA) generator in eval mode, its frame codec and metadata."""

    generator: SongGenerator
    codec: FrameCodec
    meta: dict


def save_song_gan(
    generator: SongGenerator,
    codec: FrameCodec,
    path: str | Path = ASSET_PATH,
    *,
    steps: int,
    train_seconds: float,
    data: Mapping[str, Any] | str,
    history: dict | None = None,
    **meta: Any,
) -> Path:
    """The generator in float16, the codec's z statistics, training curves (thinned to ~500 points) and `meta`,
    with the standard metadata of `weights.save_weights`."""
    history = {k: v[:: max(1, len(v) // 500)] for k, v in (history or {}).items()}
    return save_weights(
        path,
        {"generator": generator},
        kind=KIND,
        config=codec.cfg,
        steps=steps,
        train_seconds=train_seconds,
        data=data,
        half=True,
        tensors={"z_mean": codec.z_mean, "z_std": codec.z_std},
        meta={"history": history, **meta},
    )


def load_song_gan(path: str | Path = ASSET_PATH, device: str | torch.device = "cpu") -> ShippedSongGAN:
    """A saved song GAN in float32, eval mode, frozen."""
    meta = read_weights_meta(path, kind=KIND, make_script=MAKE_SCRIPT, what="song GAN")
    cfg = SongGANConfig(**meta["config"])
    g = SongGenerator(cfg)
    _, extras = load_weights(path, {"generator": g}, kind=KIND, make_script=MAKE_SCRIPT, device=device)
    return ShippedSongGAN(g.requires_grad_(False), FrameCodec(cfg, extras["z_mean"], extras["z_std"]), meta)


# ---- from the GAN to sound, and the GAN's training windows --------------------------------------------
@torch.no_grad()
def decode_frames(ae: SongAutoencoder, codec: FrameCodec, frames: Tensor, batch: int = 8) -> Tensor:
    """GAN frames [N, C, T] -> audio [N, T * hop] through the frozen decoder."""
    parts = []
    for chunk in frames.split(batch):
        f0, loud, z = codec.from_frames(chunk)
        parts.append(ae.decode(SongEncoding(f0, loud, z)))
    return torch.cat(parts)


@torch.no_grad()
def generate_windows(gan: ShippedSongGAN, n: int, seed: int = 0) -> Tensor:
    """n independent 8-s windows of frames [n, C, window_frames] from fresh random anchors."""
    latents = torch.randn(n, gan.generator.cfg.latent_size, generator=torch.Generator().manual_seed(seed))
    return torch.cat([gan.generator(x) for x in latents.split(64)])


@torch.no_grad()
def generate_song(gan: ShippedSongGAN, seconds: float, seed: int = 0) -> Tensor:
    """One song of about `seconds` (whole windows) as frames [1, C, T]: one pass over a long anchor sequence."""
    cfg = gan.generator.cfg
    n_windows = max(1, math.ceil(seconds * 50 / cfg.window_frames))
    return gan.generator.frames_from(*song_anchors(n_windows, cfg, torch.Generator().manual_seed(seed)))


def gan_windows(
    config: Any,
    tunes: list[Melody],
    model: SongAutoencoder,
    *,
    step_s: float | None = None,
    progress: bool = True,
) -> tuple[SongEncoding, SongClips]:
    """Play `tunes` as the autoencoder's data was played (same seed) and encode 8-s windows of them.

    `config` is chapter 8's `SongConfig`. Returns the encoding (f0 [N, T], loudness [N, T],
    z [N, T, Z], T = config.gan.window_frames) and the clips (audio [N, T * hop]).
    """
    window_s = config.gan.window_frames / config.model.frame_rate
    clips = render_clips(
        tunes,
        window_s,
        step_s=step_s,
        seed=config.data_seed,
        tempo_range=config.tempo_range,
        sr=config.model.sample_rate,
        frame_rate=config.model.frame_rate,
        min_voiced=0.3,
        progress=progress,
    )
    return encode_clips(model, clips), clips
