"""Sweeps of the book: run chapters over a grid of parameter values and compare the runs.

    musicgan course --only 02 --sweep SEED=0,1,2 --sweep STEPS=2000,4000 --jobs 2

Every point of the grid is one ordinary course run (`course.run_course`) in its own folder,
OUT/SEED=0,STEPS=2000/, executed by papermill in one of `jobs` worker processes. A point that
fails does not stop the others; a re-run skips the points that already finished (every chapter
ran, with the same parameters). The summary, OUT/sweep.json and OUT/sweep.md, has one row per
point with each recorded metric and target, then the mean ± std over seeds of each metric, and
OUT/plots/<metric>.png shows each metric per point.

Bad specs (an unknown parameter, an empty list, a value that is not of the parameter's type) are
refused before anything runs, with the same wording as `course -p`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import re
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .course import (
    DEFAULT_NOTEBOOKS,
    CourseError,
    chapter_parameters,
    check_parameters,
    discover,
    prepare_out_dir,
    run_course,
    select,
)

POINT_FILE = "point.json"  # in each point's folder: the parameters it ran with


def parse_sweep(specs: list[str]) -> dict[str, list[str]]:
    """["SEED=0,1,2", "STEPS=2000,4000"] -> {"SEED": ["0", "1", "2"], "STEPS": ["2000", "4000"]}.

    Values stay text here; `sweep_points` parses them to each parameter's type."""
    sweeps: dict[str, list[str]] = {}
    for spec in specs:
        name, sep, raw = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise CourseError(f"--sweep expects NAME=V1,V2,..., got {spec!r}; e.g. --sweep SEED=0,1,2")
        values = [v.strip() for v in raw.split(",")]
        if not any(values) or any(v == "" for v in values):
            raise CourseError(
                f"--sweep {name} has an empty value in {raw!r}; give a comma-separated list, e.g. {name}=0,1"
            )
        if name in sweeps:
            raise CourseError(f"--sweep {name} is given twice; put all its values in one list, e.g. {name}=0,1,2")
        if len(set(values)) != len(values):
            raise CourseError(f"--sweep {name} repeats a value in {raw!r}; each point should run once")
        sweeps[name] = values
    return sweeps


def point_name(point: dict[str, str]) -> str:
    """The point's folder name, e.g. "SEED=0,STEPS=2000" (characters a file name cannot hold become _)."""
    return ",".join(f"{k}={re.sub(r'[^A-Za-z0-9._+-]', '_', v)}" for k, v in point.items())


def sweep_points(
    sweeps: dict[str, list[str]], chapters_dir: Path, only: list[str] | None, params: dict[str, Any]
) -> list[dict[str, str]]:
    """Every point of the grid, in order, after checking that each name is a parameter of the
    selected chapters and each value parses as that parameter's type in every chapter that has it."""
    if not sweeps:
        raise CourseError("a sweep needs at least one --sweep NAME=V1,V2")
    chapters = select(discover(chapters_dir), only)
    check_parameters(chapters, {**params, **sweeps})
    clash = sorted(set(sweeps) & set(params))
    if clash:
        raise CourseError(f"{clash} given both as -p and as --sweep; keep one")
    for name, values in sweeps.items():
        for value in values:
            for chapter in chapters:
                chapter_parameters(chapter, {name: value})  # raises CourseError on a bad value
    names = list(sweeps)
    return [dict(zip(names, combo)) for combo in itertools.product(*(sweeps[n] for n in names))]


@dataclass
class PointResult:
    point: dict[str, str]
    folder: str
    status: str  # "ok", "failed" (a chapter failed or the run crashed) or "skipped" (finished earlier)
    chapters: list[dict[str, Any]]


def _finished(folder: Path, point: dict[str, str], chapter_ids: list[str]) -> list[dict[str, Any]] | None:
    """The earlier run's chapter results when `folder` holds a finished run of this point, else None."""
    try:
        same = json.loads((folder / POINT_FILE).read_text()) == point
        chapters = json.loads((folder / "summary.json").read_text())["chapters"]
    except (OSError, ValueError, KeyError):
        return None
    done = [c["id"] for c in chapters if c.get("status") == "ok"]
    return chapters if same and done == chapter_ids else None


def _run_point(folder: str, point: dict[str, str], course_kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """One point, in a worker process: a course run with the point's values, its log in log.txt."""
    out = prepare_out_dir(Path(folder), Path(course_kwargs["notebooks_dir"]))  # marked before log.txt is made
    params = {**course_kwargs.pop("params"), **point}  # SEED too: the runner types it like the others
    with open(out / "log.txt", "w") as log, contextlib.redirect_stdout(log):
        results = run_course(out, params=params, **course_kwargs)
    (out / POINT_FILE).write_text(json.dumps(point))
    return [r.__dict__ for r in results]


def run_sweep(
    out_dir: str | Path,
    sweep_specs: list[str],
    *,
    jobs: int = 1,
    profile: str = "quick",
    only: list[str] | None = None,
    device: str = "auto",
    seed: int = 0,
    params: dict[str, Any] | None = None,
    timeout: int = 1800,
    notebooks_dir: str | Path = DEFAULT_NOTEBOOKS,
) -> list[PointResult]:
    """Run every point of the grid (skipping finished ones) in `jobs` processes; write the summary."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise CourseError(f"--jobs must be a whole number >= 1, got {jobs!r}")
    params = dict(params or {})
    sweeps = parse_sweep(sweep_specs)
    points = sweep_points(sweeps, Path(notebooks_dir), only, params)
    chapter_ids = [c.id for c in select(discover(Path(notebooks_dir)), only)]
    out = prepare_out_dir(Path(out_dir), Path(notebooks_dir))
    course_kwargs = dict(
        profile=profile,
        only=only,
        device=device,
        seed=seed,
        params=params,
        timeout=timeout,
        notebooks_dir=notebooks_dir,
    )
    results: dict[str, PointResult] = {}
    todo = []
    for point in points:
        folder = out / point_name(point)
        earlier = _finished(folder, point, chapter_ids)
        if earlier is not None:
            results[folder.name] = PointResult(point, folder.name, "skipped", earlier)
            print(f"{folder.name}: finished earlier, skipped", flush=True)
        else:
            todo.append((str(folder), point))
    print(f"sweep: {len(points)} points, {len(todo)} to run in {min(jobs, max(len(todo), 1))} process(es)", flush=True)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        futures = {
            pool.submit(_run_point, folder, point, dict(course_kwargs)): (folder, point) for folder, point in todo
        }
        for n, future in enumerate(as_completed(futures), 1):
            folder, point = futures[future]
            name = Path(folder).name
            try:
                chapters = future.result()
                status = "ok" if all(c["status"] == "ok" for c in chapters) else "failed"
            except Exception as exc:  # the worker crashed: this point failed, the others go on
                chapters, status = (
                    [{"id": "-", "status": "failed", "error": {"ename": type(exc).__name__, "evalue": str(exc)}}],
                    "failed",
                )
            results[name] = PointResult(point, name, status, chapters)
            print(f"[{n}/{len(todo)}] {name}: {status}", flush=True)
    ordered = [results[point_name(p)] for p in points]
    write_sweep_summary(out, ordered, list(sweeps))
    failed = [r.folder for r in ordered if r.status == "failed"]
    print(f"sweep finished: {len(ordered) - len(failed)} of {len(ordered)} points ok; summary: {out / 'sweep.md'}")
    for row in metric_rows(ordered):
        if row["status"] == "failed":
            print(f"  point {row['folder']} failed ({row['error']}): see {out / row['folder'] / 'log.txt'}")
    for group in over_seeds(metric_rows(ordered)):
        setting = setting_label(group["setting"])
        stats = "; ".join(f"{m} {v['mean']:.4g} ± {v['std']:.2g}" for m, v in group["metrics"].items())
        print(f"  {setting} ({group['seeds']} seeds): {stats or 'no metrics'}")
    return ordered


def setting_label(point: dict[str, str]) -> str:
    """A point's parameters other than SEED, e.g. "STEPS=2000" ("all points" when only SEED varies)."""
    return ", ".join(f"{k}={v}" for k, v in point.items() if k != "SEED") or "all points"


def metric_rows(results: list[PointResult]) -> list[dict[str, Any]]:
    """One row per point: its parameters, status, each metric as "chapter:name", and targets met."""
    rows = []
    for r in results:
        metrics = {f"{c['id']}:{k}": v for c in r.chapters for k, v in (c.get("metrics") or {}).items()}
        targets = {f"{c['id']}:{t}": ok for c in r.chapters for t, ok in (c.get("targets") or {}).items()}
        errors = [
            f"{c['id']}: {c['error']['ename']}: {c['error']['evalue'][:200]}" for c in r.chapters if c.get("error")
        ]
        rows.append(
            {
                "point": r.point,
                "folder": r.folder,
                "status": r.status,
                "error": errors[0] if errors else None,
                "metrics": metrics,
                "targets": targets,
            }
        )
    return rows


def over_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std (sample std; 0 for one seed) and the values of every metric, grouping points that
    differ only in SEED."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        key = tuple((k, v) for k, v in row["point"].items() if k != "SEED")
        groups.setdefault(key, []).append(row)
    out = []
    for key, members in groups.items():
        names = sorted({m for row in members for m in row["metrics"]})
        stats = {}
        for name in names:
            values = [row["metrics"][name] for row in members if name in row["metrics"]]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            stats[name] = {"mean": statistics.fmean(values), "std": std, "n": len(values), "values": values}
        out.append({"setting": dict(key), "seeds": len(members), "metrics": stats})
    return out


def write_sweep_summary(out: Path, results: list[PointResult], names: list[str]) -> None:
    """sweep.json, sweep.md and plots/<metric>.png."""
    rows = metric_rows(results)
    summary = over_seeds(rows)
    (out / "sweep.json").write_text(json.dumps({"parameters": names, "points": rows, "over_seeds": summary}, indent=2))
    metrics = sorted({m for row in rows for m in row["metrics"]})
    lines = ["# Sweep", "", "| " + " | ".join([*names, "status", "targets met", *metrics]) + " |"]
    lines.append("|" + "---|" * (len(names) + 2 + len(metrics)))
    for row in rows:
        met = f"{sum(row['targets'].values())}/{len(row['targets'])}" if row["targets"] else "-"
        values = [f"{row['metrics'][m]:.4g}" if m in row["metrics"] else "-" for m in metrics]
        status = row["status"] + (
            f" ({row['error'].split(':', 2)[0]}: {row['error'].split(':', 2)[1].strip()})" if row["error"] else ""
        )
        lines.append("| " + " | ".join([*(row["point"][n] for n in names), status, met, *values]) + " |")
    lines += ["", "## Mean ± std over seeds", "", "| setting | seeds | " + " | ".join(metrics) + " |"]
    lines.append("|---|---|" + "---|" * len(metrics))
    for group in summary:
        setting = setting_label(group["setting"])
        cells = [
            f"{group['metrics'][m]['mean']:.4g} ± {group['metrics'][m]['std']:.2g}" if m in group["metrics"] else "-"
            for m in metrics
        ]
        lines.append(f"| {setting} | {group['seeds']} | " + " | ".join(cells) + " |")
    (out / "sweep.md").write_text("\n".join(lines) + "\n")
    _plot_metrics(out / "plots", summary, metrics)


def _plot_metrics(folder: Path, summary: list[dict[str, Any]], metrics: list[str]) -> None:
    """One small plot per metric: each seed's value (dots) and mean ± std (square), per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(exist_ok=True)
    settings = [setting_label(group["setting"]) for group in summary]
    for metric in metrics:
        fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(settings) + 2), 3.0), dpi=100, layout="constrained")
        for x, group in enumerate(summary):
            stats = group["metrics"].get(metric)
            values = [v for v in (stats["values"] if stats else []) if math.isfinite(v)]
            if values:
                ax.plot([x] * len(values), values, "o", alpha=0.6, color="tab:blue")
                ax.errorbar(x + 0.15, stats["mean"], yerr=stats["std"], fmt="s", color="k", capsize=4)
        ax.set(
            xticks=range(len(settings)), xlim=(-0.5, len(settings) - 0.5), title=metric, ylabel=metric.split(":", 1)[-1]
        )
        ax.set_xticklabels(settings, rotation=15, fontsize=9)
        fig.savefig(folder / f"{re.sub(r'[^A-Za-z0-9._-]', '_', metric)}.png")
        plt.close(fig)
