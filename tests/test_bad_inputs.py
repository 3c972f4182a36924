"""Bad input to the course runner, checkpoints, training and shipped weights: a clear error, nothing lost.

Each case asserts the error's type and that its message names the problem (and, where a
user's files are at stake, that they are untouched). The audio and data functions have their
own files: test_bad_inputs_audio.py and test_bad_inputs_data.py.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from musicgan_lib import course
from musicgan_lib.checkpoint import (
    META_KEY,
    NonFiniteTensorError,
    load_checkpoint,
    read_checkpoint_meta,
    save_checkpoint,
)
from musicgan_lib.cli import main
from musicgan_lib.train import Every, TrainingDiverged, TrainLoop
from musicgan_lib.weights import MissingWeightsError, should_load_shipped

from test_train import _trainer

ROOT = Path(__file__).resolve().parents[1]


# ---- the course runner: --out never touches the book or a user's files --------------------------
def _book(folder: Path) -> Path:
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(
        'PROFILE = "quick"\nSEED = 0\nDEVICE = "auto"\nRETRAIN = False\nPITCH = 52\nGAIN = 0.5\nNAME = "x"'
    )
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter"), params, nbformat.v4.new_code_cell("print(RETRAIN)")]
    nbformat.write(nb, folder / "01_chapter.ipynb")
    (folder / "src").mkdir()
    (folder / "src" / "01_chapter.py").write_text("# the chapter's source\n")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["parent", "book", "inside"])
def test_out_overlapping_the_notebooks_is_refused_and_nothing_changes(tmp_path, capsys, where):
    """`--out .` in the repository used to rmtree notebooks/ (sources too); `--out notebooks`
    wrote executed notebooks over the committed ones."""
    book = _book(tmp_path / "repo" / "notebooks")
    out = {"parent": book.parent, "book": book, "inside": book / "runs"}[where]
    before = _snapshot(tmp_path / "repo")
    assert main(["course", "--notebooks", str(book), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "overlaps the book's notebooks folder" in err and "--out runs/course" in err
    assert _snapshot(tmp_path / "repo") == before
    assert not (book / "runs").exists()


def test_out_holding_other_files_is_refused(tmp_path, capsys):
    book = _book(tmp_path / "book")
    mine = tmp_path / "my_folder"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    (mine / "notebooks").mkdir()
    (mine / "notebooks" / "draft.ipynb").write_text("{}")
    before = _snapshot(mine)
    assert main(["course", "--notebooks", str(book), "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert "already holds files that no course run wrote (notebooks, thesis.txt)" in err
    assert _snapshot(mine) == before
    (tmp_path / "a_file").write_text("x")
    assert main(["course", "--notebooks", str(book), "--out", str(tmp_path / "a_file")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_out_may_be_new_empty_or_an_earlier_run(tmp_path):
    book = _book(tmp_path / "book")
    run = course.prepare_out_dir(tmp_path / "runs" / "a", book)
    assert (run / course.RUN_MARKER).exists()
    (run / "summary.json").write_text("{}")
    assert course.prepare_out_dir(run, book) == run  # a second run into the same folder
    (tmp_path / "empty").mkdir()
    assert course.prepare_out_dir(tmp_path / "empty", book).is_dir()
    legacy = tmp_path / "legacy"  # written before the marker existed
    (legacy / "metrics").mkdir(parents=True)
    (legacy / "summary.json").write_text("{}")
    assert course.prepare_out_dir(legacy, book) == legacy


# ---- the course runner: parameters typed as the notebook's parameters cell types them ------------
@pytest.mark.parametrize(
    "text,value",
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
    ],
)
def test_boolean_parameters_are_parsed(tmp_path, text, value):
    """`-p RETRAIN=false` stayed the string "false", which is true: 12,000 steps of retraining."""
    chapter = course.discover(_book(tmp_path / "book"))[0]
    assert chapter.defaults["RETRAIN"] == "False"
    got = course.chapter_parameters(chapter, {"RETRAIN": text})["RETRAIN"]
    assert got is value


def test_parameters_of_other_types_are_parsed(tmp_path):
    chapter = course.discover(_book(tmp_path / "book"))[0]
    got = course.chapter_parameters(chapter, {"PITCH": "60", "GAIN": "2", "NAME": "soundfont", "SEED": 3})
    assert got == {"PITCH": 60, "GAIN": 2.0, "NAME": "soundfont", "SEED": 3}
    assert type(got["PITCH"]) is int and type(got["GAIN"]) is float
    assert course.chapter_parameters(chapter, {"NAME": "'quoted'"})["NAME"] == "quoted"


@pytest.mark.parametrize(
    "name,value,expected",
    [
        ("PITCH", "high", "PITCH \\(chapter 01\\) expects a whole number like its default 52, got 'high'"),
        ("PITCH", "52.5", "expects a whole number"),
        ("RETRAIN", "maybe", "RETRAIN \\(chapter 01\\) expects true or false like its default False, got 'maybe'"),
        ("GAIN", "loud", "GAIN \\(chapter 01\\) expects a number like its default 0.5, got 'loud'"),
        ("GAIN", "nan", "not a finite number"),
        ("RETRAIN", 1, "expects true or false.*of type int"),
        ("SEED", "0.5", "SEED \\(chapter 01\\) expects a whole number"),
    ],
)
def test_a_parameter_that_does_not_parse_is_refused_before_anything_runs(tmp_path, capsys, name, value, expected):
    book = _book(tmp_path / "book")
    out = tmp_path / "out"
    with pytest.raises(course.CourseError, match=expected):
        course.chapter_parameters(course.discover(book)[0], {name: value})
    if isinstance(value, str):
        assert main(["course", "--notebooks", str(book), "--out", str(out), "-p", f"{name}={value}"]) == 2
        assert name in capsys.readouterr().err
        assert not out.exists()  # refused before the output folder was made


@pytest.mark.parametrize("timeout", ["0", "-5"])
def test_a_timeout_that_is_not_positive_is_refused(tmp_path, capsys, timeout):
    """`--timeout 0` or a negative one meant no timeout at all."""
    out = tmp_path / "out"
    assert main(["course", "--notebooks", str(_book(tmp_path / "book")), "--out", str(out), "--timeout", timeout]) == 2
    assert f"--timeout must be a positive number of seconds per cell, got {timeout}" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("bad", ["RETRAIN", "=3", ""])
def test_a_parameter_without_name_or_value_is_refused(tmp_path, capsys, bad):
    with pytest.raises(SystemExit):
        main(["course", "--notebooks", str(_book(tmp_path / "book")), "--out", str(tmp_path / "o"), "-p", bad])
    assert "-p expects NAME=VALUE" in capsys.readouterr().err


# ---- checkpoints: finite when written, checked when read ---------------------------------------
def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_weights_are_never_saved(tmp_path, value):
    path = tmp_path / "ck.safetensors"
    net = _net()
    save_checkpoint(path, {"net": net}, meta={"step": 1})
    good = path.read_bytes()
    with torch.no_grad():
        net[0].weight[1, 2] = value
    with pytest.raises(
        NonFiniteTensorError,
        match=r"not saving .*ck.safetensors: 1 tensor\(s\) hold NaN or inf: "
        r"model/net/0.weight \(1 of 12 values\).*earlier checkpoint there is kept",
    ):
        save_checkpoint(path, {"net": net}, meta={"step": 2})
    assert path.read_bytes() == good
    assert not list(tmp_path.glob(".*tmp*"))


def test_non_finite_optimizer_state_is_never_saved(tmp_path):
    net = _net()
    opt = torch.optim.Adam(net.parameters())
    net(torch.randn(5, 3)).sum().backward()
    opt.step()
    opt.state[net[0].weight]["exp_avg_sq"].fill_(float("inf"))
    with pytest.raises(NonFiniteTensorError, match="optim/adam/0/exp_avg_sq"):
        save_checkpoint(tmp_path / "ck.safetensors", {"net": net}, {"adam": opt})


def test_a_finite_loss_with_inf_weights_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    """A step with a finite loss but an infinite gradient was saved as the last good checkpoint."""
    net = nn.Linear(2, 1)
    opt = torch.optim.SGD(net.parameters(), lr=1.0)

    def step(loop):
        opt.zero_grad()
        loss = net(torch.ones(1, 2)).sum()
        loss.backward()
        if loop.step == 5:  # the gradient overflows; the loss itself was finite
            net.weight.grad.fill_(float("inf"))
        opt.step()
        return {"loss": loss}

    path = tmp_path / "ck.safetensors"
    loop = TrainLoop(step, {"net": net}, {"opt": opt}, rng=torch.Generator(), checkpoint_path=path, checkpoint_every=2)
    with pytest.raises(
        TrainingDiverged, match=r"weights became non-finite by step 6; the last good checkpoint \(step 4\)"
    ):
        loop.run(10)
    assert read_checkpoint_meta(path)["step"] == 4
    load_checkpoint(path, {"net": nn.Linear(2, 1)})  # loads: it is finite


def _raw_checkpoint(path: Path, tensors: dict, header) -> Path:
    save_file(tensors, str(path), metadata={META_KEY: header if isinstance(header, str) else json.dumps(header)})
    return path


def _header(**meta):
    return {"format": 1, "modules": ["net"], "optimizers": {}, "meta": meta}


def _state(**changes) -> dict:
    state = {f"model/net/{k}": v.clone() for k, v in _net().state_dict().items()}
    state.update({f"model/net/{k}": v for k, v in changes.items()})
    return state


@pytest.mark.parametrize("key,value", [("0.weight", float("nan")), ("1.running_var", float("inf"))])
def test_non_finite_weights_are_refused_when_loading(tmp_path, key, value):
    state = _state()
    state[f"model/net/{key}"].view(-1)[0] = value
    path = _raw_checkpoint(tmp_path / "nan.safetensors", state, _header())
    with pytest.raises(
        NonFiniteTensorError, match=rf"nan.safetensors holds NaN or inf in 1 tensor\(s\): model/net/{key}"
    ):
        load_checkpoint(path, {"net": _net()})


def test_a_classifier_asset_with_nan_weights_does_not_load(tmp_path):
    """A NaN classifier loaded and its accuracy fell to 0.19-0.54 or NaN."""
    from musicgan_lib.metrics.audio_classifier import ASSET_PATH, load_note_classifier

    if not ASSET_PATH.exists():
        pytest.skip("no shipped note classifier")
    from safetensors import safe_open

    with safe_open(str(ASSET_PATH), framework="pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    first = next(k for k, v in tensors.items() if v.is_floating_point())
    tensors[first].view(-1)[3] = float("nan")
    bad = tmp_path / "classifier.safetensors"
    save_file(tensors, str(bad), metadata=meta)
    with pytest.raises(NonFiniteTensorError, match=f"holds NaN or inf.*{first}"):
        load_note_classifier(path=bad)


def test_wrong_dtype_is_refused_when_loading(tmp_path):
    state = _state(**{"0.weight": torch.zeros(4, 3, dtype=torch.int32)})
    path = _raw_checkpoint(tmp_path / "int.safetensors", state, _header())
    with pytest.raises(
        ValueError, match=r"does not fit module 'net'.*0.weight: checkpoint torch.int32 vs model torch.float32"
    ):
        load_checkpoint(path, {"net": _net()})
    half = _raw_checkpoint(
        tmp_path / "half.safetensors", _state(**{"0.weight": torch.ones(4, 3, dtype=torch.float16)}), _header()
    )
    net = _net()
    load_checkpoint(half, {"net": net})  # float16 on disk into a float32 model is how assets ship
    assert torch.equal(net[0].weight, torch.ones(4, 3))


@pytest.mark.parametrize(
    "header,expected",
    [
        ("{not json", "damaged metadata \\(not valid JSON"),
        ("[1, 2]", "damaged metadata \\(a JSON list where an object belongs"),
        ('"text"', "damaged metadata \\(a JSON str where an object belongs"),
        (json.dumps({"format": 1, "meta": {}}), "damaged metadata \\(missing modules, optimizers\\)"),
        (
            json.dumps({"format": 1, "modules": "net", "optimizers": [], "meta": {}}),
            "damaged metadata \\(modules is a str, not a list; optimizers is a list, not a dict\\)",
        ),
        (json.dumps({"format": True, "modules": [], "optimizers": {}, "meta": {}}), "format is a bool, not a int"),
        (json.dumps({"format": 99, "modules": [], "optimizers": {}, "meta": {}}), "has format 99, newer than"),
        (
            json.dumps({"format": 1, "modules": [], "optimizers": {}, "meta": {"x": {"__float__": "abc"}}}),
            "not valid JSON",
        ),
    ],
)
def test_corrupt_metadata_gives_one_clear_error(tmp_path, header, expected):
    path = _raw_checkpoint(tmp_path / "bad.safetensors", _state(), header)
    for read in (read_checkpoint_meta, lambda p: load_checkpoint(p, {"net": _net()})):
        with pytest.raises(ValueError, match=expected):
            read(path)


def test_a_folder_where_a_checkpoint_belongs(tmp_path):
    (tmp_path / "ck.safetensors").mkdir()
    with pytest.raises(ValueError, match="is a folder, not a checkpoint file"):
        read_checkpoint_meta(tmp_path / "ck.safetensors")


def test_optimizer_state_that_does_not_fit_is_a_clear_error(tmp_path):
    path = _raw_checkpoint(
        tmp_path / "o.safetensors", _state(), {**_header(), "optimizers": {"adam": {"plain_state": {}}}}
    )
    net = _net()
    with pytest.raises(ValueError, match="the state of optimizer 'adam' does not fit"):
        load_checkpoint(path, {"net": net}, {"adam": torch.optim.Adam(net.parameters())})


def test_a_killed_save_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    """20 SIGKILLs during saves left 147 MB of temporary files."""
    path = tmp_path / "ck.safetensors"
    script = (
        f"import os, torch\nfrom musicgan_lib.checkpoint import save_checkpoint\n"
        f"os.replace = lambda *a: os.kill(os.getpid(), 9)  # killed between writing and renaming\n"
        f"save_checkpoint({str(path)!r}, {{'net': torch.nn.Linear(300, 300)}})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    stale = list(tmp_path.glob(".ck.safetensors.tmp-*"))
    assert len(stale) == 1 and stale[0].stat().st_size > 300 * 300 * 4
    live = tmp_path / f".ck.safetensors.tmp-{os.getppid()}"  # a save under way in a live process
    live.write_bytes(b"partial")
    other = tmp_path / ".other.safetensors.tmp-1234567"  # another checkpoint's: not ours to judge here
    other.write_bytes(b"x")
    with pytest.warns(
        UserWarning, match=rf"removed {stale[0].name} \(0.4 MB\), the temporary file of an interrupted save"
    ):
        save_checkpoint(path, {"net": nn.Linear(2, 2)})
    assert not stale[0].exists() and live.exists() and other.exists() and path.exists()


# ---- training arguments --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs,error,expected",
    [
        ({"n_critic": 0}, ValueError, "n_critic \\(critic steps per generator step\\) must be at least 1, got 0"),
        ({"n_critic": 2.5}, TypeError, "n_critic .* must be an integer, got 2.5"),
        ({"ema": 1.5}, ValueError, "ema_decay must be > 0 and < 1, got 1.5"),
        ({"every": -1}, ValueError, "checkpoint_every .* must be at least 0, got -1"),
    ],
)
def test_bad_trainer_arguments(tmp_path, kwargs, error, expected):
    with pytest.raises(error, match=expected):
        _trainer(tmp_path, **kwargs)


def test_bad_batch_size_and_steps():
    import test_train

    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        test_train.GANTrainer(
            nn.Linear(1, 1), nn.Linear(1, 1), None, None, None, None, None, batch_size=0, rng=torch.Generator()
        )
    loop = TrainLoop(lambda loop: {}, {}, {}, rng=torch.Generator())
    with pytest.raises(ValueError, match="total_steps must be at least 0, got -5"):
        loop.run(-5)
    with pytest.raises(ValueError, match=r"Every\(steps\) must be at least 1, got 0"):
        Every(0, print)


# ---- shipped weights: missing or damaged is an error, never silent retraining ---------------------
def test_missing_shipped_weights_name_the_file_the_script_and_the_switch(tmp_path):
    gone = tmp_path / "assets" / "dcgan_x_quick.safetensors"
    with pytest.raises(
        MissingWeightsError,
        match=r"dcgan_x_quick.safetensors are missing. Make it with "
        r"`.venv/bin/python scripts/make_x.py`.*RETRAIN = True.*-p RETRAIN=true",
    ):
        should_load_shipped([gone], profile="quick", retrain=False, make_script="scripts/make_x.py")
    assert should_load_shipped([gone], profile="quick", retrain=True, make_script="s") is False  # on purpose
    assert should_load_shipped(gone, profile="full", retrain=False, make_script="s") is False  # full ships none


@pytest.mark.parametrize(
    "damage,expected", [("truncate", "unreadable"), ("nan", "holds NaN or inf"), ("kind", "not 'gan'")]
)
def test_damaged_shipped_weights_are_reported(tmp_path, damage, expected):
    path = tmp_path / "w.safetensors"
    net = _net()
    save_checkpoint(path, {"net": net}, meta={"kind": "gan"})
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[:-40])
    elif damage == "nan":
        _raw_checkpoint(path, _state(**{"0.bias": torch.full((4,), float("nan"))}), _header(kind="gan"))
    else:
        save_checkpoint(path, {"net": net}, meta={"kind": "other"})
    with pytest.raises(MissingWeightsError, match=f"w.safetensors .*{expected}.*scripts/make_w.py"):
        should_load_shipped(path, profile="quick", retrain=False, make_script="scripts/make_w.py", kind="gan")


def test_retrain_must_be_a_boolean(tmp_path):
    with pytest.raises(TypeError, match="RETRAIN must be True or False, got 'false'"):
        should_load_shipped(tmp_path / "x", profile="quick", retrain="false", make_script="s")


def test_chapter_six_stops_instead_of_retraining_when_its_asset_is_missing(tmp_path, monkeypatch):
    from musicgan_lib.recipes import autoencoder as ch6

    monkeypatch.setattr(ch6, "AUTOENCODER_PATH", tmp_path / "note_autoencoder.safetensors")
    monkeypatch.setattr(ch6, "train_autoencoder", lambda *a, **k: pytest.fail("trained instead of reporting the file"))
    with pytest.raises(MissingWeightsError, match="note_autoencoder.safetensors are missing.*make_note_models.py"):
        ch6.load_or_train(ch6.AutoencoderConfig.for_profile("quick"), "quick")


def test_no_notebook_decides_load_or_train_by_whether_a_file_exists():
    """The silent fallback was `use_shipped = ... and path.exists()` in notebooks 02, 03, 04 and 07."""
    for src in sorted((ROOT / "notebooks" / "src").glob("0[2-7]_*.py")):
        text = src.read_text()
        if "RETRAIN" not in text:
            continue
        assert ".exists()" not in text, src.name
        assert "should_load_shipped(" in text or "shipped_weights_status(" in text or "load_or_train(" in text, src.name


# ---- data generators ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call,error,expected",
    [
        (
            lambda: __import__("musicgan_lib.data.toy2d", fromlist=["ring"]).ring(0),
            ValueError,
            "n_modes must be at least 1, got 0",
        ),
        (
            lambda: __import__("musicgan_lib.data.toy2d", fromlist=["ring"]).ring(8, std=0),
            ValueError,
            "std must be > 0, got 0",
        ),
        (
            lambda: __import__("musicgan_lib.data.toy2d", fromlist=["grid"]).grid(2.5),
            TypeError,
            "side must be an integer, got 2.5",
        ),
        (
            lambda: __import__("musicgan_lib.data.toy2d", fromlist=["ring"]).ring().sample(-1),
            ValueError,
            "n must be at least 0",
        ),
        (
            lambda: __import__("musicgan_lib.data.notes", fromlist=["make_notes"]).make_notes(4, 0.5, sr=0),
            ValueError,
            "sr \\(the sample rate\\) must be a positive finite number",
        ),
        (
            lambda: __import__("musicgan_lib.data.notes", fromlist=["make_notes"]).make_notes(
                4, 0.5, sr=16000, frame_rate=300
            ),
            ValueError,
            "sr \\(16000\\) must be a multiple of frame_rate \\(300\\)",
        ),
    ],
)
def test_bad_data_generator_arguments(call, error, expected):
    with pytest.raises(error, match=expected):
        call()
