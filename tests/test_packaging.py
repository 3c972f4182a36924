"""The set-up files agree with each other: what conda users get is what pip users get."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(req: str) -> str:
    return re.split(r"[<>=!~\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r for r in pip if not r.startswith("-e")}
    assert set(listed) == set(wanted), (
        f"only in pyproject: {set(wanted) - set(listed)}; only in environment.yml: {set(listed) - set(wanted)}"
    )
    for name, req in wanted.items():
        assert listed[name].replace(" ", "") == req.replace(" ", ""), f"{name}: {listed[name]} vs {req}"
    assert "-e ." in pip


def test_torch_and_torchaudio_are_pinned_to_one_release():
    """The guide's 2.11 pair, exact: torchaudio's wheels ask only for torch>=2.11, but each is
    built against one torch release (torchaudio 2.11.1 does not load with torch 2.11.0)."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {_name(r): r for r in deps if _name(r) in {"torch", "torchaudio"}}
    assert pins == {"torch": "torch==2.11.0", "torchaudio": "torchaudio==2.11.0"}


def test_ci_script_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make test" in ci and "CI=true" in ci


def test_installed_torch_and_torchaudio_are_2_11():
    import torch
    import torchaudio

    assert torch.__version__.startswith("2.11.") and torchaudio.__version__.startswith("2.11.")
