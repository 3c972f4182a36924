"""Chapter 8's report: one row of numbers per set of song clips, measured the same way for every row.

A row is a set of audio clips of equal length (the held-out corpus, its reconstructions, the
GAN's songs, a baseline). For each clip an independent pitch tracker (CREPE tiny,
`metrics.music.transcribe`) writes down the f0 it hears, frames become notes, and the note
metrics are averaged over clips; the pooled pitch-class and note-length histograms are compared
with the held-out corpus's *score* (JS distances). Clip features for FD/KID come from the note
classifier trained in this project (64 features of each 1-s chunk, averaged over the clip).

`evaluate` measures every row of the chapter's table for a pair of song models; `encode_audio_file`
encodes a recording with the f0 the same tracker hears.

Shapes: audio [N, S] float at `sr`; features [N, 64].
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from ..audio.io import read_wav
from ..data.melodies import Melody
from ..data.song_clips import SongClips, SongData, render_clips
from ..losses_audio import MultiScaleSpectralLoss
from ..models.song_autoencoder import SongAutoencoder, SongEncoding, reconstruct
from ..models.song_gan import (
    ShippedSongGAN,
    decode_frames,
    gaussian_frames,
    gan_windows,
    generate_song,
    generate_windows,
)
from .music import (
    NoteSeq,
    distribution_distances,
    frames_to_notes,
    hz_to_midi,
    markov1_melodies,
    melody_metrics,
    seam_ratio,
    spectral_flux,
    transcribe,
)

ROW_METRICS = ("in_tune_rate", "scale_consistency", "pitch_class_entropy", "step_ratio", "pc_js", "onset_rate_js")


@dataclass
class SongRow:
    """The numbers of one set of clips (means over clips; JS distances over the pooled set)."""

    name: str
    n: int
    in_tune_rate: float
    scale_consistency: float
    pitch_class_entropy: float
    step_ratio: float
    pc_js: float
    onset_rate_js: float
    notes_per_s: float
    fd: float = math.nan
    kid: float = math.nan
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def transcribe_clips(audio: Tensor, sr: int, hop_s: float = 0.02) -> list[tuple[NoteSeq, np.ndarray, float]]:
    """(notes, f0 [frames], frame_rate) of each clip [N, S], heard by CREPE tiny (20-ms hop: half the cost of 10)."""
    out = []
    for clip in audio.detach().cpu().numpy():
        f0, _, rate = transcribe(clip, sr, hop_s=hop_s)
        out.append((frames_to_notes(f0, rate), f0, rate))
    return out


def measure_row(
    name: str, audio: Tensor, sr: int, reference: Sequence[NoteSeq], hop_s: float = 0.02, heard: list | None = None
) -> SongRow:
    """Transcribe `audio` [N, S] (or use `heard`, its `transcribe_clips`) and measure it; JS distances
    against `reference` melodies (the held-out score)."""
    heard = heard if heard is not None else transcribe_clips(audio, sr, hop_s)
    per_clip = [melody_metrics(notes, f0) for notes, f0, _ in heard if len(notes) >= 2]
    notes = [n for n, _, _ in heard]

    def mean(key: str) -> float:
        values = [m[key] for m in per_clip if m[key] == m[key]]  # NaN-free
        return float(np.mean(values)) if values else math.nan

    dist = distribution_distances(notes, reference)
    seconds = audio.shape[-1] / sr
    return SongRow(
        name,
        len(audio),
        mean("in_tune_rate"),
        mean("scale_consistency"),
        mean("pitch_class_entropy"),
        mean("step_ratio"),
        dist["pc_js"],
        dist["onset_rate_js"],
        float(np.mean([len(n) / seconds for n in notes])),
    )


def reference_row(name: str, melodies: Sequence[NoteSeq]) -> SongRow:
    """The score's own numbers (no audio, no tracker): what a perfect transcription of the corpus gives."""
    per = [melody_metrics(m) for m in melodies if len(m) >= 2]
    dist = distribution_distances(melodies, melodies)
    seconds = [float(m.onset[-1] + m.duration[-1] - m.onset[0]) for m in melodies if len(m)]
    return SongRow(
        name,
        len(melodies),
        1.0,
        float(np.mean([m["scale_consistency"] for m in per])),
        float(np.mean([m["pitch_class_entropy"] for m in per])),
        float(np.nanmean([m["step_ratio"] for m in per])),
        dist["pc_js"],
        dist["onset_rate_js"],
        float(np.mean([len(m) for m in melodies]) / np.mean(seconds)),
    )


@torch.no_grad()
def clip_features(classifier, audio: Tensor, chunk_s: float = 1.0, sr: int = 16000) -> Tensor:
    """[N, S] -> [N, F]: the note classifier's features of each `chunk_s` chunk, averaged over the clip."""
    chunk = int(chunk_s * sr)
    n_chunks = audio.shape[-1] // chunk
    chunks = audio[:, : n_chunks * chunk].reshape(-1, chunk)
    feats = torch.cat([classifier.features(c) for c in chunks.split(256)])
    return feats.view(len(audio), n_chunks, -1).mean(1)


def frechet(a: Tensor, b: Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a [N, F] and b [M, F] (float64)."""
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    mu, nu = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(ca @ cb).real
    return float(((mu - nu) ** 2).sum() + np.trace(ca + cb - 2 * root))


def kid(a: Tensor, b: Tensor) -> float:
    """Kernel inception distance (unbiased MMD^2, cubic polynomial kernel) between feature sets [N, F], [M, F]."""
    a, b = a.double(), b.double()
    d = a.shape[1]

    def k(x, y):
        return (x @ y.T / d + 1) ** 3

    n, m = len(a), len(b)
    kaa, kbb = k(a, a), k(b, b)
    return float(
        (kaa.sum() - kaa.diag().sum()) / (n * (n - 1))
        + (kbb.sum() - kbb.diag().sum()) / (m * (m - 1))
        - 2 * k(a, b).mean()
    )


def nn_ratio(generated: Tensor, train: Tensor, held_out: Tensor) -> float:
    """Mean distance of generated clips to their nearest training clip, over the same for held-out real clips.

    About 1: the generator is as far from its training data as new real music is (not copying);
    well under 1: it reproduces training clips. Features [N, F].
    """

    def nearest(x):
        return torch.cdist(x.double(), train.double()).min(1).values.mean()

    return float(nearest(generated) / nearest(held_out))


def f0_within(
    tracked_hz: np.ndarray, tracked_rate: float, score_hz: np.ndarray, score_rate: float, cents: float = 50.0
) -> tuple[float, float]:
    """(raw pitch accuracy, voicing recall) of a tracked f0 against the score, as melody extraction measures them.

    Accuracy: of the frames the score sounds *and* the tracker hears a pitch in, the share within
    `cents` of the score. Recall: the share of the score's sounding frames the tracker hears at all
    (a piano or vibraphone note decays to near silence long before its written end, and the tracker
    rightly calls those frames unvoiced: that is not a pitch error). The score's frame i covers
    [i, i + 1) / score_rate; each takes the nearest tracked frame (centred at j / tracked_rate).
    """
    t = (np.arange(len(score_hz)) + 0.5) / score_rate
    j = np.clip(np.rint(t * tracked_rate).astype(int), 0, len(tracked_hz) - 1)
    sounding = score_hz > 0
    heard = tracked_hz[j][sounding]
    voiced = heard > 0
    if not voiced.any():
        return math.nan, (0.0 if sounding.any() else math.nan)
    error = np.abs(1200 * np.log2(heard[voiced] / score_hz[sounding][voiced]))
    return float((error <= cents).mean()), float(voiced.mean())


def markov_tunes(train_tunes: list[Melody], n: int, n_notes: int = 64, seed: int = 0) -> list[Melody]:
    """The strong symbolic baseline: Markov-1 pitches over the training tunes, note lengths drawn from theirs."""
    pitches = markov1_melodies([t.pitch for t in train_tunes], n, n_notes, seed)
    lengths = np.concatenate([t.duration for t in train_tunes])
    rng = np.random.default_rng(seed + 1)
    out = []
    for p in pitches:
        dur = rng.choice(lengths, size=len(p)).astype(np.float32)
        out.append(Melody(p.astype(np.int16), np.concatenate([[0.0], np.cumsum(dur)[:-1]]).astype(np.float32), dur))
    return out


def frames_row(name: str, f0_hz: Tensor, frame_rate: float) -> SongRow:
    """The note numbers read straight off f0 tracks f0_hz [N, T] (Hz, 0 = no pitch), e.g. a GAN's frames
    before any audio: cheap enough to watch during training. No tracker hears anything, so
    `in_tune_rate` is nan; compare with the training windows' own tracks, not with `measure_row`'s rows."""
    row = reference_row(name, [frames_to_notes(f0.numpy(), frame_rate) for f0 in f0_hz.float().cpu()])
    row.in_tune_rate = math.nan
    return row


def score_notes(clips: SongClips) -> list[NoteSeq]:
    """Each clip's score as notes (seconds), read off its per-frame score f0."""
    return [frames_to_notes(f0.numpy(), clips.frame_rate) for f0 in clips.f0_hz]


@torch.no_grad()
def autoencoder_report(ae: SongAutoencoder, clips: SongClips, recon: Tensor, train: SongEncoding) -> dict:
    """Reconstruction quality on held-out clips: loudness L1 (dB, frames above -60 dB) and the MSS of the
    reconstruction over the MSS of the same f0 and loudness decoded with the training set's mean z.

    recon: the reconstructions [N, S] of clips.audio [N, S] (same shape, as `song_autoencoder.reconstruct` gives).
    """
    enc = SongEncoding(
        *(
            torch.cat(parts)
            for parts in zip(*(ae.encode(a, f) for a, f in zip(clips.audio.split(8), clips.f0_hz.split(8))))
        )
    )
    sounding = enc.loudness_db > -60.0
    loud_l1 = float((ae.measure_loudness(recon) - enc.loudness_db).abs()[sounding].mean())
    mean_z = train.z[train.f0_hz > 0].mean(0)
    plain = torch.cat(
        [
            ae.decode(SongEncoding(f, loud, mean_z.expand(len(f), f.shape[1], -1)))
            for f, loud in zip(enc.f0_hz.split(8), enc.loudness_db.split(8))
        ]
    )
    mss = MultiScaleSpectralLoss()
    return {"ae_loudness_l1_db": loud_l1, "ae_mss_ratio": float(mss(recon, clips.audio) / mss(plain, clips.audio))}


@torch.no_grad()
def encode_audio_file(ae: SongAutoencoder, path: str | Path, max_seconds: float = 30.0) -> tuple[Tensor, SongEncoding]:
    """A WAV of a monophonic instrument (any rate, mono or stereo) -> (its audio [1, S] at 16 kHz, its encoding).

    f0 comes from CREPE (tiny) at twice the frame rate, read at each frame's centre; unvoiced is 0.
    The encoding is f0 [1, F], loudness [1, F], z [1, F, Z] with F = S / hop.
    """
    audio, sr = read_wav(path, sr=ae.sample_rate)
    audio = audio[: int(max_seconds * ae.sample_rate)]
    audio = audio[: len(audio) // ae.hop * ae.hop][None]
    if audio.shape[-1] == 0:
        raise ValueError(f"{path} is shorter than one frame ({ae.hop} samples at {ae.sample_rate} Hz)")
    f0, _, rate = transcribe(audio[0].numpy(), ae.sample_rate, hop_s=0.5 / ae.frame_rate)
    centres = np.arange(audio.shape[-1] // ae.hop) * 2 + 1  # frame i's centre is tracker frame 2i + 1
    f0 = torch.from_numpy(f0[np.minimum(centres, len(f0) - 1)]).float()[None]
    return audio, ae.encode(audio, f0)


@torch.no_grad()
def evaluate(
    config: Any,
    data: SongData,
    ae: SongAutoencoder,
    gan: ShippedSongGAN,
    classifier,
    n: int = 48,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """Every row of the chapter's table on `n` 8-s clips each, plus floors, the seam and the copying check.

    `config` is chapter 8's `SongConfig`. Rows: the held-out score itself, its rendered audio
    ("real"), the autoencoder's reconstruction (the ceiling of this approach), the GAN, and two
    baselines decoded through the same autoencoder (a per-frame Gaussian over the encodings;
    Markov-1 tunes played and re-encoded). FD/KID compare clip features with `n` real clips; the
    real-vs-real floor uses `n` other held-out clips.
    """
    window_s = config.gan.window_frames / config.model.frame_rate
    play = dict(seed=config.data_seed, tempo_range=config.tempo_range, min_voiced=0.3, progress=progress)
    held = render_clips(data.held_out_tunes, window_s, **play)
    order = torch.randperm(len(held), generator=torch.Generator().manual_seed(seed))
    real, other = held[order[:n]], held[order[n : 2 * n]]
    reference = score_notes(real)
    train_enc, train_clips = gan_windows(config, data.train_tunes[:60], ae, progress=progress)
    codec = gan.codec
    train_frames = codec.to_frames(train_enc.f0_hz, train_enc.loudness_db, train_enc.z)
    markov = render_clips(markov_tunes(data.train_tunes, n, seed=seed), window_s, **play)[:n]
    sets = {
        "real": real.audio,
        "reconstruction": reconstruct(ae, real),
        "GAN": decode_frames(ae, codec, generate_windows(gan, n, seed)),
        "Gaussian": decode_frames(ae, codec, gaussian_frames(train_frames, n, torch.Generator().manual_seed(seed))),
        "Markov-1": reconstruct(ae, markov),
    }
    sr = config.model.sample_rate
    rows = {"corpus": reference_row("corpus (score)", reference).as_dict()}
    feats = {k: clip_features(classifier, v, sr=sr) for k, v in sets.items()}
    other_feats = clip_features(classifier, other.audio, sr=sr)
    heard_real = transcribe_clips(real.audio, sr)
    ae_report = autoencoder_report(ae, real, sets["reconstruction"], train_enc)
    for name, audio in sets.items():
        row = measure_row(name, audio, sr, reference, heard=heard_real if name == "real" else None)
        row.fd, row.kid = (
            frechet(feats["real"], feats[name] if name != "real" else other_feats),
            kid(feats["real"], feats[name] if name != "real" else other_feats),
        )
        rows[name] = row.as_dict()
    train_feats = clip_features(classifier, train_clips.audio[: 4 * n], sr=sr)
    song = decode_frames(ae, codec, generate_song(gan, 64.0, seed))[0]
    joins = [window_s * k for k in range(1, int(len(song) / sr / window_s))]
    flux = spectral_flux(song.numpy(), sr)
    heard = transcribe_clips(song[None], sr)[0]
    return {
        "n": n,
        "rows": rows,
        **ae_report,
        "nn_ratio": nn_ratio(feats["GAN"], train_feats, other_feats),
        "seam_ratio": seam_ratio(flux, 100.0, joins),
        "seam_ratio_pitch": seam_ratio(
            np.abs(np.diff(np.nan_to_num(hz_to_midi(np.where(heard[1] > 0, heard[1], np.nan))), prepend=0.0)),
            heard[2],
            joins,
        ),
        **dict(
            zip(
                ("ae_f0_within_50c", "ae_f0_voicing_recall"),
                np.nanmean(
                    [
                        f0_within(f0, rate, score.numpy(), config.model.frame_rate)
                        for (_, f0, rate), score in zip(heard_real, real.f0_hz)
                    ],
                    axis=0,
                ).tolist(),
            )
        ),
    }
