"""Chapter 5's exercise checks can pass (their reference solutions) and fail (wrong answers), with a reason."""

import math

import numpy as np
import torch

from musicgan_lib.audio.analysis import Partials
from musicgan_lib.exercises import ch05

# the strongest partials of the chapter's guitar note (E3, f0 label 164.8 Hz): the octave leads
GUITAR = Partials(
    freqs_hz=np.array([165.0, 330.0, 495.0, 122.3, 660.0]),
    amps=np.array([0.072, 0.106, 0.067, 0.045, 0.005]),
    decays=np.array([0.79, 0.77, 0.79, 26.11, 0.86]),
    phases=np.zeros(5),
    onset_s=0.0,
    sr=16000,
)
F0 = 164.8


def sine_from(angle):
    """A learner's sine_wave built around `angle(f, phase, t)`, t = n / sr in seconds [T]."""
    return lambda f, phase, duration, sr: torch.sin(angle(f, phase, torch.arange(round(duration * sr)) / sr))


def test_reference_solutions_pass_their_checks():
    assert ch05.check_sine_wave(ch05.solution_sine_wave).passed
    assert ch05.check_sum_period(ch05.solution_sum_period()).passed
    assert ch05.check_sum_period(1 / 110, (220.0, 330.0, 440.0)).passed
    assert ch05.check_strongest_harmonic(ch05.solution_strongest_harmonic(GUITAR, F0), GUITAR, F0).passed
    assert ch05.solution_strongest_harmonic(GUITAR, F0) == 2
    assert math.isclose(ch05.solution_sum_period((27.5, 55.0, 82.5)), 1 / 27.5)


def test_wrong_answers_fail_and_say_why():
    cases = [
        (
            ch05.check_sine_wave(lambda f, p, d, sr: torch.cos(2 * math.pi * f * torch.arange(round(d * sr)) / sr + p)),
            "cosine",
        ),
        (ch05.check_sine_wave(sine_from(lambda f, p, t: f * t + p)), "2 pi radians"),
        (ch05.check_sine_wave(sine_from(lambda f, p, t: 2 * math.pi * f * t)), "phase is missing"),
        (ch05.check_sine_wave(sine_from(lambda f, p, t: 2 * math.pi * f * (t + 1 / 16000) + p)), "off by one"),
        (
            ch05.check_sine_wave(lambda f, p, d, sr: torch.sin(2 * math.pi * f * torch.arange(160) / 16000 + p)),
            "samples",
        ),  # hard-coded to 16 kHz: the 8 kHz call has 32 samples
        (ch05.check_sine_wave(sine_from(lambda f, p, t: 2 * math.pi * 1.01 * f * t + p)), "sin(phase)"),
        (ch05.check_sine_wave(lambda f, p, d, sr: 1 / 0), "raised ZeroDivisionError"),
        (ch05.check_sine_wave(lambda f, p, d, sr: "a sine"), "tensor"),
        (ch05.check_sum_period(150), "frequency of the tone"),
        (ch05.check_sum_period(1000 / 150), "milliseconds"),
        (ch05.check_sum_period(1 / 300), "whole number"),
        (ch05.check_sum_period(1 / 50), "largest frequency"),
        (ch05.check_sum_period(-1.0), "positive number"),
        (ch05.check_sum_period("1/150"), "positive number"),
        (ch05.check_strongest_harmonic(330, GUITAR, F0), "in Hz"),
        (ch05.check_strongest_harmonic(1, GUITAR, F0), "not always the strongest"),
        (ch05.check_strongest_harmonic(3, GUITAR, F0), "first row"),
        (ch05.check_strongest_harmonic("two", GUITAR, F0), "whole number"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, (reason, verdict)
        assert str(verdict).startswith("NOT YET")


def test_an_unanswered_exercise_says_so():
    for verdict in (
        ch05.check_sine_wave(None),
        ch05.check_sum_period(None),
        ch05.check_strongest_harmonic(None, GUITAR, F0),
    ):
        assert not verdict.passed and "no answer yet" in verdict.message
    verdict = ch05.check_sine_wave(lambda f, p, d, sr: None)  # the page's stub: its body is still `return None`
    assert not verdict.passed and "returns None" in verdict.message
