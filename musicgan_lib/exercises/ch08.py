"""Chapter 8's exercises: MIDI pitch to Hz (what the decoder needs from the GAN's semitone bins), the
number of frames in a song, and reading whether the GAN beats the Markov-chain baseline."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping

import torch

from ..audio.synth import midi_to_hz
from .core import Verdict, call_for_tensor, unanswered

# the measures where a row is a distance from the real clips (smaller wins); on the others the row
# closest to the real audio's value wins, as in the chapter's "where does the GAN win" cell
DISTANCES = ("fd", "kid", "pc_js", "onset_rate_js")


def solution_midi_to_hz(pitch: torch.Tensor) -> torch.Tensor:
    """Reference: equal temperament, A4 = MIDI 69 = 440 Hz, each semitone x 2^(1/12); [N] -> [N] Hz."""
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def check_midi_to_hz(pitch_to_hz: Callable[[torch.Tensor], torch.Tensor] | None) -> Verdict:
    """Chapter 8, exercise 1: `midi_to_hz(pitch [N]) -> [N]` Hz, as the frame codec turns the GAN's
    semitone bins into the f0 the decoder plays."""
    if (missing := unanswered(pitch_to_hz)) is not None:
        return missing
    pitch = torch.tensor([69.0, 81.0, 57.0, 60.0, 40.0, 96.0])  # A4, A5, A3, C4, the GAN's lowest and highest
    got, problem = call_for_tensor(pitch_to_hz, pitch, what="frequencies")
    if problem is not None:
        return problem
    want = midi_to_hz(pitch.double())
    if got.shape != want.shape:
        return Verdict(False, f"expected one frequency per pitch, {want.numel()} of them; got {got.numel()}")
    if not math.isclose(float(got[0]), 440.0, rel_tol=1e-4):
        return Verdict(False, f"MIDI 69 is A4, tuned to 440 Hz; yours gives {float(got[0]):.2f} Hz")
    if not math.isclose(float(got[1] / got[0]), 2.0, rel_tol=1e-4):
        return Verdict(
            False,
            f"12 semitones up is an octave, twice the frequency; yours multiplies by {float(got[1] / got[0]):.3f}",
        )
    if not torch.allclose(got, want, rtol=1e-4):
        return Verdict(False, "each semitone multiplies the frequency by the same factor, 2^(1/12)")
    return Verdict(
        True,
        f"440 x 2^((p - 69) / 12): the GAN's pitch bins span MIDI 40..96, {float(want[4]):.1f} Hz to "
        f"{float(want[5]):.0f} Hz, and middle C is {float(want[3]):.2f} Hz",
    )


def solution_song_frames(seconds: float = 40.0, frame_rate: int = 50) -> int:
    """Reference: frames the generator writes for a song of `seconds`: one per 1/frame_rate s."""
    return round(seconds * frame_rate)


def check_song_frames(
    answer: int | None,
    seconds: float = 40.0,
    frame_rate: int = 50,
    hop: int = 320,
    window_s: float = 8.0,
    anchor_s: float = 2.0,
) -> Verdict:
    """Chapter 8, exercise 2: how many frames does the generator write for a song of `seconds`, at
    `frame_rate` frames per second (each `hop` audio samples; windows of `window_s`, anchors every
    `anchor_s`)?"""
    if (missing := unanswered(answer)) is not None:
        return missing
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real) or not math.isfinite(answer):
        return Verdict(False, f"answer a whole number of frames, got {answer!r}")
    want = solution_song_frames(seconds, frame_rate)
    if answer == want:
        return Verdict(
            True,
            f"{seconds:g} s x {frame_rate} frames/s = {want} frames, which the decoder turns into "
            f"{want * hop:,} samples ({hop} per frame): the GAN writes {hop}x fewer time steps than the audio has",
        )
    if answer == want * hop:
        return Verdict(False, f"that counts audio samples: one frame stands for {hop} of them")
    if answer == round(seconds / window_s):
        return Verdict(
            False, f"that counts the {window_s:g}-s windows: each holds {round(window_s * frame_rate)} frames"
        )
    if answer in (round(seconds / anchor_s), round(seconds / anchor_s) + 3):
        return Verdict(False, f"that counts anchors: the generator draws {round(anchor_s * frame_rate)} frames per gap")
    if answer == round(seconds * 250):
        return Verdict(False, "250 frames/s is the label rate of chapter 5's notes; this chapter's encoding is coarser")
    return Verdict(False, f"the encoding has {frame_rate} frames per second of music")


def solution_gan_beats_markov(rows: Mapping[str, Mapping[str, float]], metric: str = "kid") -> bool:
    """Reference: is the GAN's row better than the Markov-1 row on `metric`? On a distance from the real
    clips the smaller wins; on any other measure, the value closer to the real audio's row."""
    gan, markov = rows["GAN"][metric], rows["Markov-1"][metric]
    if metric in DISTANCES:
        return gan < markov
    real = rows["real"][metric]
    return abs(gan - real) < abs(markov - real)


def check_gan_beats_markov(
    answer: bool | None, rows: Mapping[str, Mapping[str, float]], metric: str = "kid"
) -> Verdict:
    """Chapter 8, exercise 3: from the measured table `rows` (`assets/song_eval.json`), does the GAN
    beat the Markov-1 baseline on `metric`? Answer True or False."""
    if (missing := unanswered(answer)) is not None:
        return missing
    if not isinstance(answer, bool):
        return Verdict(False, f"answer True or False, got {answer!r}")
    want = solution_gan_beats_markov(rows, metric)
    gan, markov = rows["GAN"][metric], rows["Markov-1"][metric]
    if metric in DISTANCES:
        if answer == want:
            return Verdict(True, f"{metric} is a distance from the real clips: GAN {gan:.3f}, Markov-1 {markov:.3f}")
        return Verdict(False, f"{metric} is a distance from the real clips, so the smaller number wins")
    real = rows["real"][metric]
    if answer == want:
        return Verdict(True, f"real audio has {real:.3f}: GAN {gan:.3f}, Markov-1 {markov:.3f}; the closer one wins")
    return Verdict(False, f"not the bigger number: the one closer to the real row's {metric} wins")
