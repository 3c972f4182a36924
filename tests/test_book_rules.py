"""The book's teaching rules, chapter by chapter: each has its algorithm on the page with a test that
checks it against the library, and 2-3 self-checking exercises whose checks live in the library."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name[:2] for p in (ROOT / "notebooks" / "src").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_has_a_page_test_and_two_or_three_exercises(chapter):
    (source,) = (ROOT / "notebooks" / "src").glob(f"{chapter}_*.py")
    text = source.read_text()
    assert (ROOT / "tests" / f"test_notebook_{chapter}_page.py").exists(), "the page's algorithm needs its test"
    checks = re.findall(r"^run_check\((check_\w+)", text, flags=re.M)
    assert 2 <= len(checks) <= 3, f"{source.name}: {len(checks)} exercises"
    module = (ROOT / "musicgan_lib" / "exercises" / f"ch{chapter}.py").read_text()
    assert all(f"def {c}(" in module for c in checks), "each exercise's check lives in exercises.chNN"
    tested = "".join(p.read_text() for p in (ROOT / "tests").glob(f"test_exercises_*{chapter}*.py"))
    assert all(c in tested for c in checks), "each check is run by a test (its solution passes, a wrong answer fails)"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_batch_runs_skip_every_exercise_and_a_learner_sees_the_verdict(chapter, monkeypatch, capsys):
    import importlib

    from musicgan_lib.exercises import Verdict, run_check

    (source,) = (ROOT / "notebooks" / "src").glob(f"{chapter}_*.py")
    module = importlib.import_module(f"musicgan_lib.exercises.ch{chapter}")
    monkeypatch.setenv("MUSICGAN_BATCH", "1")
    for name in re.findall(r"^run_check\((check_\w+)", source.read_text(), flags=re.M):
        assert run_check(getattr(module, name), None) is None  # the check is not even called
        assert f"exercise {name} skipped in a batch run" in capsys.readouterr().out
    monkeypatch.delenv("MUSICGAN_BATCH")
    monkeypatch.delenv("CI", raising=False)
    assert run_check(lambda answer: Verdict(answer == 1, "why"), 1).passed
    assert capsys.readouterr().out == "RIGHT: why\n"


def test_the_rule_finds_the_chapters():
    assert CHAPTERS == ["01", "02", "03", "04", "05", "06", "07", "08"]
