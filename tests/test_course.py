"""The course runner: argument errors before anything runs, summaries, failures, metrics."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from musicgan_lib import course
from musicgan_lib.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _notebook(
    path: Path, title: str, body: str, params: str = 'PROFILE = "quick"\nSEED = 0\nDEVICE = "auto"\nSTEPS = 3'
) -> None:
    nb = nbformat.v4.new_notebook()
    p = nbformat.v4.new_code_cell(params)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}"), p, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def toy_book(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "data.txt").write_text("41")  # a file next to the notebooks, read via the working directory
    _notebook(
        book / "01_first.ipynb",
        "First chapter",
        "from musicgan_lib.record import record\n"
        "record('answer', int(open('data.txt').read()) + 1)\nrecord('steps', STEPS)\nprint(PROFILE, SEED, DEVICE)\n"
        "from musicgan_lib.record import check_targets\ncheck_targets({'answer is 42': True, '|steps| > 9': STEPS > 9})",
    )
    _notebook(book / "02_broken.ipynb", "Broken chapter", "x = 1\nraise RuntimeError('boom in chapter 2')")
    _notebook(book / "03_third.ipynb", "Third chapter", "from musicgan_lib.record import record\nrecord('ok', 1)")
    return book


def test_discover_reads_titles_and_parameters(toy_book):
    chapters = course.discover(toy_book)
    assert [c.id for c in chapters] == ["01", "02", "03"]
    assert chapters[0].title == "First chapter"
    assert chapters[0].parameters == ("PROFILE", "SEED", "DEVICE", "STEPS")


def test_unknown_chapter_and_parameter_are_refused_before_running(toy_book, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(toy_book), "--out", str(out), "--only", "09"]) == 2
    assert "unknown chapter id(s) ['09']; valid ids: 01, 02, 03" in capsys.readouterr().err
    assert main(["course", "--notebooks", str(toy_book), "--out", str(out), "-p", "STPES=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) ['STPES']" in err and "STEPS" in err
    assert main(["course", "--notebooks", str(toy_book), "--out", str(out), "--profile", "huge"]) == 2
    assert not out.exists()


@pytest.mark.slow
def test_runs_chapters_records_metrics_and_reports_failures(toy_book, tmp_path, capfd):
    out = tmp_path / "out"
    code = main(
        [
            "course",
            "--notebooks",
            str(toy_book),
            "--out",
            str(out),
            "-p",
            "STEPS=7",
            "--device",
            "cpu",
            "--timeout",
            "120",
        ]
    )
    assert code == 1  # chapter 2 failed
    printed = capfd.readouterr()
    assert "target NOT met: |steps| > 9" in printed.out
    assert "1 of 2 targets met (chapters 02 failed before checking all of theirs)" in printed.out
    if course.kernel_manager_class().__name__ == "EncryptedKernelManager":  # pyzmq with Curve, jupyter_client >= 8.9
        assert "without encryption" not in printed.err  # the kernels' own stderr reaches fd 2
    summary = json.loads((out / "summary.json").read_text())
    by_id = {c["id"]: c for c in summary["chapters"]}
    assert by_id["01"]["status"] == "ok" and by_id["01"]["metrics"] == {"answer": 42.0, "steps": 7.0}
    assert by_id["01"]["targets"] == {"answer is 42": True, "|steps| > 9": False}
    assert by_id["03"]["targets"] == {}  # a chapter that states no targets
    assert by_id["02"]["status"] == "failed" and by_id["02"]["error"]["ename"] == "RuntimeError"
    assert "boom in chapter 2" in by_id["02"]["error"]["evalue"] and by_id["02"]["error"]["cell"] is not None
    assert by_id["03"]["status"] == "ok"  # later chapters still run
    assert (out / "02_broken.ipynb").exists()  # the partial notebook is kept
    executed = nbformat.read(out / "01_first.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "quick 0 cpu" in printed
    md = (out / "summary.md").read_text()
    assert "| 02 | Broken chapter | failed (cell" in md and "answer=42" in md
    assert "| 1/2 — not met: \\|steps\\| > 9 |" in md  # the pipes would otherwise split the table cell


@pytest.mark.slow
def test_fail_fast_stops_at_first_failure(toy_book, tmp_path):
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(toy_book), "--out", str(out), "--fail-fast", "--only", "02,03"]) == 1
    assert [c["id"] for c in json.loads((out / "summary.json").read_text())["chapters"]] == ["02"]


@pytest.mark.slow
def test_chapter_one_through_the_console_script_meets_its_targets(tmp_path):
    """`musicgan course --only 01` as a user would run it, checked against the issue's targets."""
    exe = Path(sys.executable).with_name("musicgan")
    out = tmp_path / "run"
    proc = subprocess.run(
        [str(exe), "course", "--only", "01", "--out", str(out)], capture_output=True, text=True, timeout=3600
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "[1/1] 01" in proc.stdout
    chapter = json.loads((out / "summary.json").read_text())["chapters"][0]
    assert chapter["status"] == "ok" and chapter["id"] == "01"
    assert chapter["targets"] and all(chapter["targets"].values()), chapter["targets"]
    assert f"targets met {len(chapter['targets'])}/{len(chapter['targets'])}" in proc.stdout
    m = chapter["metrics"]
    assert m["ring_modes"] == 8
    assert m["grid_modes"] >= 22
    assert m["ring_high_quality"] >= 0.5 and m["grid_high_quality"] >= 0.5
    assert m["vanilla_ring_modes"] <= 4  # the collapsing setup collapses
    assert m["vanilla_bn_ring_modes"] >= 6 and m["vanilla_ring_top_mode_share"] > 0.4
    assert chapter["seconds"] > 0  # the time is reported (timings never decide a test)


def test_check_targets_prints_records_and_merges(tmp_path, monkeypatch, capsys):
    from musicgan_lib import record as rec

    metrics = tmp_path / "metrics" / "05.json"
    monkeypatch.setenv(rec.METRICS_FILE_ENV, str(metrics))
    assert rec.check_targets({"snr >= 20 dB": True, "fd <= 3 x floor": False}) is None  # a cell shows only the lines
    rec.check_targets({"fd <= 3 x floor": True, "a late target": True})  # a later cell may re-check or add
    assert capsys.readouterr().out.splitlines() == [
        "PASS: snr >= 20 dB",
        "FAIL: fd <= 3 x floor",
        "PASS: fd <= 3 x floor",
        "PASS: a late target",
    ]
    assert rec.targets_file(metrics) == tmp_path / "metrics" / "05.targets.json"
    written = json.loads(rec.targets_file(metrics).read_text())
    assert list(written.items()) == [
        ("snr >= 20 dB", True),
        ("fd <= 3 x floor", True),
        ("a late target", True),
    ]  # chapter order
    assert not metrics.exists()  # targets do not mix into the metrics file
    assert rec.checked_targets()["fd <= 3 x floor"] is True


def test_check_targets_refuses_non_booleans(monkeypatch):
    from musicgan_lib import record as rec
    import numpy as np

    import torch

    monkeypatch.delenv(rec.METRICS_FILE_ENV, raising=False)
    rec.check_targets({"numpy comparison": np.float64(3.0) > 2, "torch comparison": torch.tensor(2.0) > 3})
    assert rec.checked_targets()["numpy comparison"] is True and rec.checked_targets()["torch comparison"] is False
    with pytest.raises(TypeError, match=r"target 'coverage' must be True or False, got float 0.93"):
        rec.check_targets({"first": True, "coverage": 0.93})  # a value where a comparison was meant
    assert "first" not in rec.checked_targets()  # nothing recorded from a call that was refused
    with pytest.raises(TypeError, match="must be True or False"):
        rec.check_targets({"many": torch.tensor([True, False])})
    with pytest.raises(ValueError, match="non-empty description"):
        rec.check_targets({" ": True})


def test_papermill_parses_every_parameter_of_the_book(capsys):
    """papermill reads each parameters cell line by line; a line it cannot parse (say, quotes
    inside a comment) is dropped from `papermill --help-notebook` with a warning in every run."""
    from papermill.translators import PythonTranslator

    for chapter in course.discover():
        nb = json.loads(chapter.path.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        names = [p.name for p in PythonTranslator.inspect({"source": "".join(cell["source"])})]
        assert names == list(chapter.parameters), chapter.path.name
        assert {"PROFILE", "SEED", "DEVICE"} <= set(names), chapter.path.name
    assert "Unable to parse" not in capsys.readouterr().out
