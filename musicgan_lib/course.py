"""The course runner: execute the book's notebooks in order with papermill and summarise them.

Each chapter runs with the notebooks folder's copy as working directory, an execution
timeout (widget cells can otherwise hang papermill forever), PROFILE/SEED/DEVICE injected,
and MUSICGAN_METRICS_FILE pointing at a per-chapter JSON file that `record()` fills.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import os
import shutil
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .device import DEVICE_CHOICES
from .profiles import PROFILES
from .record import METRICS_FILE_ENV, OUTPUT_DIR_ENV, targets_file

PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_NOTEBOOKS = PACKAGE_ROOT.parent / "notebooks"
INJECTED = ("PROFILE", "SEED", "DEVICE")


class CourseError(ValueError):
    """Bad arguments to the course runner, reported before anything runs."""


@dataclass
class Chapter:
    id: str
    path: Path
    title: str
    parameters: tuple[str, ...] = ()
    # name -> the default's source text in the parameters cell ("False", "40", '"synthetic"'), as
    # papermill reads it; a value given on the command line is parsed to that default's type.
    defaults: dict[str, str] = field(default_factory=dict)


@dataclass
class ChapterResult:
    id: str
    title: str
    status: str
    seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    notebook: str = ""
    error: dict[str, Any] | None = None
    targets: dict[str, bool] = field(default_factory=dict)  # what `record.check_targets` reported

    def unmet_targets(self) -> list[str]:
        return [t for t, ok in self.targets.items() if not ok]


@functools.cache
def kernel_manager_class() -> type:
    """The kernel manager batch runs start notebooks with: CurveZMQ-encrypted when it can be.

    ipykernel >= 7.3 warns on every start that a kernel talks over plain TCP; jupyter_client
    >= 8.9 can provision keys itself ("auto": when pyzmq has Curve and the kernelspec declares
    support). Older versions, or a pyzmq without Curve, get the stock manager and its warning.
    """
    from jupyter_client.manager import AsyncKernelManager

    if not can_encrypt_kernels():
        return AsyncKernelManager
    from traitlets import default

    class EncryptedKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _encrypt_when_possible(self) -> str:  # a default: a user's Jupyter config still wins
            return "auto"

    return EncryptedKernelManager


def can_encrypt_kernels() -> bool:
    """True when jupyter_client knows `transport_encryption` (>= 8.9) and pyzmq has CurveZMQ."""
    try:
        import zmq
        from jupyter_client.manager import KernelManager
    except ImportError:
        return False
    return "transport_encryption" in KernelManager.class_trait_names() and bool(zmq.has("curve"))


def _title(nb: dict, fallback: str) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _parameters(nb: dict) -> dict[str, str]:
    """The parameters cell's names and default texts, read by papermill's own inspection."""
    from papermill.translators import PythonTranslator

    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            return {p.name: p.default for p in PythonTranslator.inspect({"source": "".join(cell.get("source", ""))})}
    return {}


def discover(notebooks_dir: Path = DEFAULT_NOTEBOOKS) -> list[Chapter]:
    """The chapters in order: notebooks named NN_*.ipynb."""
    chapters = []
    for path in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = json.loads(path.read_text())
        defaults = _parameters(nb)
        chapters.append(Chapter(path.name[:2], path, _title(nb, path.stem), tuple(defaults), defaults))
    if not chapters:
        raise CourseError(f"no notebooks named NN_*.ipynb in {notebooks_dir}")
    return chapters


def select(chapters: list[Chapter], only: list[str] | None) -> list[Chapter]:
    if not only:
        return chapters
    known = {c.id: c for c in chapters}
    wanted = [o.strip().zfill(2) for o in only if o.strip()]
    unknown = [o for o in wanted if o not in known]
    if unknown:
        raise CourseError(f"unknown chapter id(s) {unknown}; valid ids: {', '.join(known)}")
    return [c for c in chapters if c.id in wanted]


def check_parameters(chapters: list[Chapter], params: dict[str, Any]) -> None:
    valid = sorted({p for c in chapters for p in c.parameters} | set(INJECTED))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise CourseError(f"unknown parameter(s) {unknown}; valid names: {', '.join(valid)}")


_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
_TYPE_WORDS = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}


def parse_parameter(name: str, value: Any, default_text: str, chapter: str = "") -> Any:
    """`value` as the type of the parameter's default in the notebook's parameters cell.

    Text from the command line is parsed (`-p RETRAIN=false` is False, not the truthy string
    "false"); a value that is already typed must be of that type (an int is fine for a float).
    Anything else is a CourseError naming the parameter, the value and the expected type, so a
    bad value is refused before any chapter runs. A parameter whose default is None or not a
    literal has no type to check against: text is read as a Python literal where it is one.
    """
    try:
        default = ast.literal_eval(default_text)
    except (ValueError, SyntaxError):
        default = None
    kind = type(default)
    where = f" (chapter {chapter})" if chapter else ""

    def refuse(why: str = "") -> CourseError:
        expected = _TYPE_WORDS.get(kind, kind.__name__)
        return CourseError(
            f"parameter {name}{where} expects {expected} like its default {default_text}, got {value!r}{why}"
        )

    if default is None:
        if isinstance(value, str):
            try:
                return ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return value
        return value
    if isinstance(value, str) and kind is str and len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = ast.literal_eval(value)  # a quoted string, as papermill's own -p writes it
    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            if text.lower() in _TRUE | _FALSE:
                return text.lower() in _TRUE
            raise refuse()
        try:
            value = kind(text) if kind in (int, float) else ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise refuse() from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if type(value) is not kind:
        raise refuse(f" of type {type(value).__name__}")
    if kind is float and not math.isfinite(value):
        raise refuse(": not a finite number")
    return value


def chapter_parameters(chapter: Chapter, params: dict[str, Any]) -> dict[str, Any]:
    """The values injected into one chapter: those of its parameters that were given, typed."""
    return {
        k: parse_parameter(k, v, chapter.defaults.get(k, "None"), chapter.id)
        for k, v in params.items()
        if k in chapter.parameters
    }


RUN_MARKER = ".musicgan-course-run"  # written into every output folder; a later run may write there again


def _is_course_run(folder: Path) -> bool:
    """True for a folder a course run wrote (runs from before the marker: summary.json + metrics/)."""
    return (folder / RUN_MARKER).exists() or ((folder / "summary.json").is_file() and (folder / "metrics").is_dir())


def prepare_out_dir(out: Path, notebooks_dir: Path) -> Path:
    """Check that a run may write into `out`, then create it and mark it as a course run.

    The runner copies the book to OUT/notebooks and writes executed notebooks, metrics and
    files into OUT, replacing what an earlier run left there. So OUT must be new, empty, or a
    course run's own folder; it must not be, hold, or lie inside the book's notebooks folder
    (`--out .` in the repository would replace notebooks/ with its copy, `--out notebooks`
    would write executed notebooks over the sources). Nothing is written before the checks.
    """
    out, source = Path(out).resolve(), Path(notebooks_dir).resolve()
    copy = out / "notebooks"
    if out == source or source in out.parents or copy == source or copy in source.parents:
        raise CourseError(
            f"--out {out} overlaps the book's notebooks folder {source}: a run would write over the "
            "notebooks themselves. Pick a separate folder, e.g. --out runs/course"
        )
    if out.exists() and not out.is_dir():
        raise CourseError(f"--out {out} is a file, not a folder; pick a folder name, e.g. --out runs/course")
    if out.exists() and not _is_course_run(out):
        held = sorted(p.name for p in out.iterdir())
        if held:
            raise CourseError(
                f"--out {out} already holds files that no course run wrote ({', '.join(held[:5])}"
                f"{', ...' if len(held) > 5 else ''}); a run writes only into a new or empty folder, or into an earlier "
                "run's folder. Pick another folder, e.g. --out runs/course"
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_MARKER).write_text("written by `musicgan course`; a later run may replace what is in this folder\n")
    return out


def run_course(
    out_dir: str | Path,
    *,
    profile: str = "quick",
    only: list[str] | None = None,
    device: str = "auto",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    fail_fast: bool = False,
    timeout: int = 1800,
    notebooks_dir: str | Path = DEFAULT_NOTEBOOKS,
) -> list[ChapterResult]:
    """Run the selected chapters into out_dir; write summary.json and summary.md there."""
    import papermill as pm  # heavy import, only when actually running

    params = dict(params or {})
    if profile not in PROFILES:
        raise CourseError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    if device.split(":")[0] not in DEVICE_CHOICES:
        raise CourseError(f"unknown device {device!r}; valid: {', '.join(DEVICE_CHOICES)}")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise CourseError(f"--timeout must be a positive number of seconds per cell, got {timeout!r} (default 1800)")
    chapters = select(discover(Path(notebooks_dir)), only)
    check_parameters(chapters, params)
    injected_by_chapter = {
        c.id: chapter_parameters(c, {"PROFILE": profile, "SEED": seed, "DEVICE": device, **params}) for c in chapters
    }

    out = prepare_out_dir(Path(out_dir), Path(notebooks_dir))
    work = out / "notebooks"
    if work.exists():  # the copy an earlier run made in this (checked) run folder
        shutil.rmtree(work)
    shutil.copytree(notebooks_dir, work, ignore=shutil.ignore_patterns("runs", ".ipynb_checkpoints", "src"))
    (out / "metrics").mkdir(parents=True, exist_ok=True)

    results: list[ChapterResult] = []
    course_start = time.perf_counter()
    for n, chapter in enumerate(chapters, 1):
        metrics_file = out / "metrics" / f"{chapter.id}.json"
        metrics_file.unlink(missing_ok=True)
        targets_file(metrics_file).unlink(missing_ok=True)
        executed = out / chapter.path.name
        injected = injected_by_chapter[chapter.id]
        print(
            f"[{n}/{len(chapters)}] {chapter.id} {chapter.title} ... (course elapsed {time.perf_counter() - course_start:.0f} s)",
            flush=True,
        )
        env_before = {k: os.environ.get(k) for k in (METRICS_FILE_ENV, OUTPUT_DIR_ENV, "MUSICGAN_BATCH")}
        os.environ.update(
            {METRICS_FILE_ENV: str(metrics_file), OUTPUT_DIR_ENV: str(out / "files"), "MUSICGAN_BATCH": "1"}
        )
        start = time.perf_counter()
        error = None
        try:
            pm.execute_notebook(
                str(work / chapter.path.name),
                str(executed),
                parameters=injected,
                cwd=str(work),
                execution_timeout=timeout,
                progress_bar=False,
                kernel_name="python3",
                kernel_manager_class=kernel_manager_class(),
            )
            status = "ok"
        except pm.PapermillExecutionError as exc:
            status = "failed"
            error = {
                "cell": exc.cell_index,
                "execution_count": exc.exec_count,
                "ename": exc.ename,
                "evalue": exc.evalue,
            }
        except Exception as exc:  # kernel died, timeout, ...
            status = "failed"
            error = {
                "cell": None,
                "ename": type(exc).__name__,
                "evalue": str(exc),
                "traceback": traceback.format_exc(limit=3),
            }
        finally:
            for k, v in env_before.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        seconds = time.perf_counter() - start
        metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        tfile = targets_file(metrics_file)
        targets = json.loads(tfile.read_text()) if tfile.exists() else {}
        results.append(
            ChapterResult(chapter.id, chapter.title, status, round(seconds, 1), metrics, executed.name, error, targets)
        )
        line = f"    {status} in {seconds:.1f} s"
        if error:
            line += f" -- cell {error.get('cell')}: {error['ename']}: {error['evalue'][:300]}"
        if targets:
            line += f"\n    targets met {len(targets) - len(results[-1].unmet_targets())}/{len(targets)}"
            line += "".join(f"\n    target NOT met: {t}" for t in results[-1].unmet_targets())
        print(line, flush=True)
        write_summary(out, results, profile=profile, device=device)
        if status != "ok" and fail_fast:
            print("stopping (--fail-fast)")
            break
    unmet = [(r.id, t) for r in results for t in r.unmet_targets()]
    checked = sum(len(r.targets) for r in results)
    crashed = [r.id for r in results if r.status != "ok"]
    print(
        f"course finished in {time.perf_counter() - course_start:.0f} s; {checked - len(unmet)} of {checked} targets met"
        + (f" (chapters {', '.join(crashed)} failed before checking all of theirs)" if crashed else "")
        + f"; summary: {out / 'summary.md'}"
    )
    for chapter_id, target in unmet:
        print(f"  chapter {chapter_id}: target NOT met: {target}")
    return results


def write_summary(out: Path, results: list[ChapterResult], *, profile: str, device: str) -> None:
    data = {
        "profile": profile,
        "device": device,
        "chapters": [r.__dict__ for r in results],
    }
    (out / "summary.json").write_text(json.dumps(data, indent=2))
    lines = [
        f"# MusicGAN Lab course run (profile {profile}, device {device})",
        "",
        "| chapter | title | status | seconds | targets met | metrics |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(r.metrics.items())) or "-"
        status = r.status if not r.error else f"{r.status} (cell {r.error.get('cell')}: {r.error['ename']})"
        unmet = r.unmet_targets()
        targets = f"{len(r.targets) - len(unmet)}/{len(r.targets)}" if r.targets else "-"
        if unmet:
            targets += " — not met: " + "; ".join(t.replace("|", "\\|") for t in unmet)
        lines.append(f"| {r.id} | {r.title} | {status} | {r.seconds:.1f} | {targets} | {metrics} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
