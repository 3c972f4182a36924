"""Chapter 8's exercise checks can pass (their reference solutions) and fail (wrong answers), with a reason."""

import torch

from musicgan_lib.exercises import ch08

# the shape of the chapter's evaluation table (assets/song_eval.json): the Markov chain is the closer
# on kid and step_ratio, the GAN on notes_per_s and pc_js
ROWS = {
    "real": {"kid": -0.006, "step_ratio": 0.672, "notes_per_s": 0.714, "pc_js": 0.067},
    "GAN": {"kid": 0.180, "step_ratio": 0.255, "notes_per_s": 0.703, "pc_js": 0.181},
    "Markov-1": {"kid": 0.139, "step_ratio": 0.702, "notes_per_s": 0.750, "pc_js": 0.211},
}


def test_reference_solutions_pass_their_checks():
    assert ch08.check_midi_to_hz(ch08.solution_midi_to_hz).passed
    assert ch08.check_song_frames(ch08.solution_song_frames()).passed
    assert ch08.check_song_frames(ch08.solution_song_frames(180.0, 50), 180.0, 50).passed
    for metric in ROWS["real"]:
        answer = ch08.solution_gan_beats_markov(ROWS, metric)
        assert ch08.check_gan_beats_markov(answer, ROWS, metric).passed
    assert [ch08.solution_gan_beats_markov(ROWS, m) for m in ROWS["real"]] == [False, False, True, True]


def test_wrong_answers_fail_and_say_why():
    cases = [
        (ch08.check_midi_to_hz(lambda p: 440.0 * 2.0 ** (p / 12)), "MIDI 69"),
        (ch08.check_midi_to_hz(lambda p: 440.0 * 2.0 ** ((p - 69) / 7)), "octave"),
        (ch08.check_midi_to_hz(lambda p: 440.0 + 440.0 / 12 * (p - 69)), "same factor"),  # right at A4 and A5
        (
            ch08.check_midi_to_hz(
                lambda p: torch.where(p > 90, 440.0 * 2.0 ** ((p - 69) / 12) + 5, 440.0 * 2.0 ** ((p - 69) / 12))
            ),
            "same factor",
        ),
        (ch08.check_midi_to_hz(lambda p: (440.0 * 2.0 ** ((p - 69) / 12))[:3]), "one frequency per pitch"),
        (ch08.check_midi_to_hz(lambda p: p.item()), "raised"),
        (ch08.check_midi_to_hz(lambda p: "A4"), "tensor"),
        (ch08.check_song_frames(40 * 16000), "audio samples"),
        (ch08.check_song_frames(5), "windows"),
        (ch08.check_song_frames(20), "anchors"),
        (ch08.check_song_frames(40 * 250), "chapter 5"),
        (ch08.check_song_frames(400), "frames per second"),
        (ch08.check_song_frames("2000"), "whole number"),
        (ch08.check_gan_beats_markov(True, ROWS, "kid"), "smaller number wins"),
        (ch08.check_gan_beats_markov(True, ROWS, "step_ratio"), "closer to the real row"),
        (ch08.check_gan_beats_markov(False, ROWS, "notes_per_s"), "closer to the real row"),
        (ch08.check_gan_beats_markov("no", ROWS, "kid"), "True or False"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, (reason, verdict)
        assert str(verdict).startswith("NOT YET")


def test_an_unanswered_exercise_says_so():
    for verdict in (
        ch08.check_midi_to_hz(None),
        ch08.check_song_frames(None),
        ch08.check_gan_beats_markov(None, ROWS),
    ):
        assert not verdict.passed and "no answer yet" in verdict.message
    verdict = ch08.check_midi_to_hz(lambda pitch: None)  # the page's stub: its body is still `return None`
    assert not verdict.passed and "returns None" in verdict.message
