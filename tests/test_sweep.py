"""Sweeps of the book: bad specs refused before anything runs, the grid, parallel points, a failed
point that does not stop the others, finished points skipped on a re-run, the summary."""

import json

import pytest
from test_course import _notebook

from musicgan_lib import sweep
from musicgan_lib.cli import main
from musicgan_lib.course import CourseError


@pytest.fixture
def sweep_book(tmp_path):
    """One chapter: records answer = 10 * SEED + STEPS, and fails when STEPS is 13."""
    book = tmp_path / "book"
    book.mkdir()
    _notebook(
        book / "01_tiny.ipynb",
        "Tiny chapter",
        "from musicgan_lib.record import record, check_targets\n"
        "assert STEPS != 13, 'unlucky STEPS'\n"
        "record('answer', 10 * SEED + STEPS)\ncheck_targets({'answer below 15': 10 * SEED + STEPS < 15})",
    )
    return book


def test_parse_and_grid(sweep_book):
    sweeps = sweep.parse_sweep(["SEED=0,1", "STEPS= 3 ,5"])
    assert sweeps == {"SEED": ["0", "1"], "STEPS": ["3", "5"]}
    points = sweep.sweep_points(sweeps, sweep_book, None, {})
    assert points == [
        {"SEED": "0", "STEPS": "3"},
        {"SEED": "0", "STEPS": "5"},
        {"SEED": "1", "STEPS": "3"},
        {"SEED": "1", "STEPS": "5"},
    ]
    assert sweep.point_name({"SEED": "0", "DATA": "my font/x.sf2"}) == "SEED=0,DATA=my_font_x.sf2"


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["STPES=1,2"], "unknown parameter(s) ['STPES']"),
        (["STEPS="], "empty value"),
        (["STEPS=1,,2"], "empty value"),
        (["STEPS=1,two"], "parameter STEPS (chapter 01) expects a whole number like its default 3, got 'two'"),
        (["SEED=0.5"], "expects a whole number"),
        (["STEPS"], "expects NAME=V1,V2"),
        (["SEED=0", "SEED=1"], "given twice"),
        (["SEED=0,0"], "repeats a value"),
    ],
)
def test_bad_specs_are_refused_before_anything_runs(sweep_book, tmp_path, capsys, specs, message):
    out = tmp_path / "out"
    args = ["course", "--notebooks", str(sweep_book), "--out", str(out)]
    assert main([*args, *(f"--sweep={s}" for s in specs)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_jobs_and_clashes_are_refused(sweep_book, tmp_path):
    with pytest.raises(CourseError, match="--jobs must be a whole number >= 1"):
        sweep.run_sweep(tmp_path / "out", ["SEED=0"], jobs=0, notebooks_dir=sweep_book)
    with pytest.raises(CourseError, match="given both as -p and as --sweep"):
        sweep.run_sweep(tmp_path / "out", ["STEPS=1"], params={"STEPS": "2"}, notebooks_dir=sweep_book)
    assert not (tmp_path / "out").exists()


def test_over_seeds_groups_points_that_differ_only_in_seed():
    rows = [
        {"point": {"SEED": "0", "STEPS": "3"}, "metrics": {"01:answer": 3.0}},
        {"point": {"SEED": "1", "STEPS": "3"}, "metrics": {"01:answer": 13.0}},
        {"point": {"SEED": "0", "STEPS": "5"}, "metrics": {"01:answer": 5.0}},
    ]
    groups = sweep.over_seeds(rows)
    assert groups[0]["setting"] == {"STEPS": "3"} and groups[0]["seeds"] == 2
    assert groups[0]["metrics"]["01:answer"] == {
        "mean": 8.0,
        "std": pytest.approx(7.0711, abs=1e-4),
        "n": 2,
        "values": [3.0, 13.0],
    }
    assert groups[1]["metrics"]["01:answer"] == {"mean": 5.0, "std": 0.0, "n": 1, "values": [5.0]}
    assert sweep.setting_label(groups[0]["setting"]) == "STEPS=3" and sweep.setting_label({"SEED": "1"}) == "all points"


@pytest.mark.slow
def test_a_tiny_sweep_runs_in_parallel_and_a_rerun_skips_finished_points(sweep_book, tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["course", "--notebooks", str(sweep_book), "--out", str(out), "--device", "cpu", "--timeout", "120"]
    assert main([*args, "--sweep", "SEED=0,1", "--sweep", "STEPS=3,13", "--jobs", "2"]) == 1  # STEPS=13 fails
    printed = capsys.readouterr().out
    assert "4 points, 4 to run in 2 process(es)" in printed and "2 of 4 points ok" in printed
    data = json.loads((out / "sweep.json").read_text())
    rows = {r["folder"]: r for r in data["points"]}
    assert set(rows) == {"SEED=0,STEPS=3", "SEED=0,STEPS=13", "SEED=1,STEPS=3", "SEED=1,STEPS=13"}
    assert rows["SEED=1,STEPS=3"]["status"] == "ok" and rows["SEED=1,STEPS=3"]["metrics"] == {"01:answer": 13.0}
    assert rows["SEED=0,STEPS=3"]["targets"] == {"01:answer below 15": True}
    assert rows["SEED=0,STEPS=13"]["status"] == "failed"  # and the other points still ran
    assert rows["SEED=0,STEPS=13"]["error"] == "01: AssertionError: unlucky STEPS"
    assert "point SEED=0,STEPS=13 failed (01: AssertionError: unlucky STEPS)" in printed
    steps3 = next(g for g in data["over_seeds"] if g["setting"] == {"STEPS": "3"})
    assert steps3["metrics"]["01:answer"]["mean"] == 8.0 and steps3["seeds"] == 2
    md = (out / "sweep.md").read_text()
    assert "| 1 | 3 | ok | 1/1 | 13 |" in md and "| STEPS=3 | 2 | 8 ± 7.1 |" in md
    assert "| 0 | 13 | failed (01: AssertionError) | - | - |" in md
    assert (out / "plots" / "01_answer.png").stat().st_size > 1000
    finished = (out / "SEED=1,STEPS=3" / "summary.json").stat().st_mtime_ns

    assert main([*args, "--sweep", "SEED=0,1", "--sweep", "STEPS=3,13", "--jobs", "2"]) == 1
    printed = capsys.readouterr().out
    assert "SEED=1,STEPS=3: finished earlier, skipped" in printed and "4 points, 2 to run" in printed
    assert (out / "SEED=1,STEPS=3" / "summary.json").stat().st_mtime_ns == finished
    rows = {r["folder"]: r for r in json.loads((out / "sweep.json").read_text())["points"]}
    assert rows["SEED=1,STEPS=3"]["status"] == "skipped" and rows["SEED=1,STEPS=3"]["metrics"] == {"01:answer": 13.0}
