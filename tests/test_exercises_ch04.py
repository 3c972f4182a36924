"""Chapter 4's exercise checks can pass (the reference solutions) and can fail (wrong answers, with
the reason), and an unanswered exercise says so."""

from musicgan_lib.exercises import ch04
from musicgan_lib.recipes import progan as ch4

SCHEDULE = ch4.ProGANConfig.for_profile("quick").schedule()  # the chapter's: 16px fade at steps 1407-2345
SPIKES = [  # as chapter 4 measured them: the raw FD is highest at 8px, the ratio at 32px
    {"step": 469, "resolution": 8, "fd_before": 143.9, "fd_max_fade": 125.2, "fd_end_fade": 77.3, "ratio": 0.87},
    {"step": 1407, "resolution": 16, "fd_before": 62.8, "fd_max_fade": 52.7, "fd_end_fade": 25.0, "ratio": 0.84},
    {"step": 3595, "resolution": 32, "fd_before": 13.1, "fd_max_fade": 13.4, "fd_end_fade": 9.9, "ratio": 1.02},
]


def test_reference_solutions_pass_their_checks():
    for step in (2000, 100, 469, 5000):  # mid-fade, stable 4px, a fade's first step, stable 32px
        assert ch04.check_alpha_at_step(ch04.solution_alpha_at_step(SCHEDULE, step), SCHEDULE, step).passed
    assert ch04.check_alpha_at_step(0.632, SCHEDULE, 2000).passed  # (2000 - 1407) / 938, rounded
    assert ch04.check_n_growths(ch04.solution_n_growths).passed
    assert ch04.check_worst_growth(ch04.solution_worst_growth(SPIKES), SPIKES).passed
    assert ch04.check_worst_growth(32, SPIKES).passed


def test_wrong_answers_fail_and_say_why():
    want = (2000 - 1407) / 938
    cases = [
        (ch04.check_alpha_at_step(1 - want, SCHEDULE, 2000), "rises from 0"),
        (ch04.check_alpha_at_step((2000 - 1407 + 1) / 938, SCHEDULE, 2000), "no + 1"),
        (ch04.check_alpha_at_step(1.0, SCHEDULE, 2000), "neither end"),
        (ch04.check_alpha_at_step(0.4, SCHEDULE, 2000), "16px fade phase"),
        (ch04.check_alpha_at_step(0.5, SCHEDULE, 100), "alpha is 1 there"),
        (ch04.check_alpha_at_step("half", SCHEDULE, 2000), "answer with a number"),
        (ch04.check_n_growths(lambda s, f: f // s), "count the doublings"),
        (ch04.check_n_growths(lambda s, f: len(range(s.bit_length(), f.bit_length() + 1))), "four resolutions"),
        (ch04.check_n_growths(lambda s, f: 3), "from 4x4 to 64x64"),
        (ch04.check_n_growths(lambda s, f: s / 0), "raised ZeroDivisionError"),
        (ch04.check_worst_growth(8, SPIKES), "highest raw FD"),
        (ch04.check_worst_growth(16, SPIKES), "another growth point"),
        (ch04.check_worst_growth(64, SPIKES), "one of the resolutions"),
    ]
    for verdict, reason in cases:
        assert not verdict.passed and reason in verdict.message, (reason, verdict)
        assert str(verdict).startswith("NOT YET")


def test_an_unanswered_exercise_says_so():
    for check, args in [
        (ch04.check_alpha_at_step, (SCHEDULE, 2000)),
        (ch04.check_n_growths, ()),
        (ch04.check_worst_growth, (SPIKES,)),
    ]:
        verdict = check(None, *args)
        assert not verdict.passed and "no answer yet" in verdict.message
    verdict = ch04.check_n_growths(lambda start_resolution, final_resolution: None)  # the page's stub
    assert not verdict.passed and "returns None" in verdict.message
