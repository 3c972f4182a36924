"""End-to-end: the book works in JupyterLab, driven by headless Chromium.

Learners use the notebooks in JupyterLab, where sliders, audio players and plots are live
widgets; papermill/nbval only ever see the static fallback figures. These tests start a
real `jupyter lab` (the project's venv, token auth, 127.0.0.1, a throw-away copy of the
notebooks and throw-away Jupyter config/data/settings folders), open chapters in Debian's
Chromium through Playwright, run them, move a slider and check what a learner would see.

Screenshots land in test-artifacts/browser/. Every process started here (server, kernels,
browser) is stopped here, also when a check fails.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
LAB_CONFIG = ROOT / "scripts" / "lab_config"
# The project's venv (`make install`); else the venv running pytest.
JUPYTER = ROOT / ".venv" / "bin" / "jupyter"
if not JUPYTER.exists():
    JUPYTER = Path(sys.prefix) / "bin" / "jupyter"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAVE_NOTEBOOK = "05_wave_composition.ipynb"
GAN_NOTEBOOKS = ("01_gan_basics.ipynb", "02_*.ipynb", "03_*.ipynb")  # the first GAN chapter there
# Environment that would make the book draw static figures instead of widgets, or send
# plots nowhere; the kernels must see what a learner's kernel sees.
BATCH_ENV = ("MUSICGAN_BATCH", "CI", "MUSICGAN_METRICS_FILE", "MUSICGAN_OUT", "MPLBACKEND")

SERVER_START_S = 90
RUN_ALL_S = 240
WIDGET_CHANGE_S = 30
TRACEBACK = "Traceback (most recent call last)"


# --------------------------------------------------------------------------- set-up


def _ensure_chromium() -> None:
    """Install Debian's chromium through the project's system-deps script, or skip."""
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "install-system-deps.sh")],
            check=False,
            timeout=900,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"{CHROMIUM} is missing and could not be installed (needs root and apt-get: "
            "`apt-get install chromium`, or `make system-deps` as root)"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list:
    import psutil

    try:
        proc = psutil.Process(pid)
        return [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _stop_processes(procs: list, grace_s: float = 10.0) -> None:
    """SIGTERM the given processes (by pid), wait, then SIGKILL the ones still alive."""
    import psutil

    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)


class LabServer:
    """A `jupyter lab` subprocess on 127.0.0.1 with token auth and throw-away folders."""

    def __init__(self, workdir: Path, notebooks: Path):
        self.workdir = workdir
        self.notebooks = notebooks
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.log_path = ARTIFACTS / "jupyter-server.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
        for key in BATCH_ENV:
            env.pop(key, None)
        dirs = {
            "JUPYTER_CONFIG_DIR": "config",
            "JUPYTER_DATA_DIR": "data",
            "JUPYTER_RUNTIME_DIR": "runtime",
            "IPYTHONDIR": "ipython",
            "MUSICGAN_OUT": "runs",
        }
        for key, name in dirs.items():
            path = self.workdir / name
            path.mkdir(parents=True, exist_ok=True)
            env[key] = str(path)
        env["JUPYTER_CONFIG_PATH"] = str(LAB_CONFIG)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        settings = self.workdir / "user-settings"
        workspaces = self.workdir / "workspaces"
        settings.mkdir(exist_ok=True)
        workspaces.mkdir(exist_ok=True)
        cmd = [
            str(JUPYTER),
            "lab",
            "--no-browser",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.notebooks}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={workspaces}",
        ]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.notebooks,
            env=self.env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if self.api("GET", "/api/status").get("started"):
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.5)
        raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_S} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 5.0):
        req = urllib.request.Request(self.base + path, method=method, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else {}

    def url(self, notebook: str, workspace: str) -> str:
        # A workspace of its own per test: no tabs restored from an earlier test.
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def stop_kernels(self) -> None:
        """Shut down every kernel (frees the CPU for the next chapter)."""
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=15)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        """Shut kernels and server down politely, then make sure every process is gone."""
        if self.proc is None:
            return
        procs = _descendants(self.proc.pid)  # the server and its kernels, by pid
        if self.proc.poll() is None:
            try:
                self.stop_kernels()
            except Exception:
                pass
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        _stop_processes(procs)
        self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab over a throw-away copy of the notebooks."""
    pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra: pip install -e '.[test]'")
    _ensure_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in [*ARTIFACTS.glob("*.png"), *ARTIFACTS.glob("*.log"), *ARTIFACTS.glob("*.txt")]:
        old.unlink()  # this run's artifacts only
    workdir = tmp_path_factory.mktemp("lab")
    notebooks = workdir / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "runs", "__pycache__"))
    server = LabServer(workdir, notebooks)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(lab, browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on("pageerror", lambda exc: console.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        yield page
    finally:
        try:
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"))
        except Exception:
            pass
        (ARTIFACTS / f"{request.node.name}-console.log").write_text("\n".join(console) + "\n")
        context.close()
        try:
            lab.stop_kernels()
        except Exception:
            pass


# --------------------------------------------------------------------------- driving Lab

_PANEL_JS = """
(name) => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return null;
  for (const w of app.shell.widgets('main')) {
    if (w.context && w.context.path === name && w.content && w.content.widgets) return w;
  }
  return null;
}
"""


def open_notebook(page, lab: LabServer, name: str):
    """Open `name` in Lab, wait until its kernel is connected and idle; return its panel."""
    page.goto(lab.url(name, workspace=re.sub(r"\W", "-", name)))
    page.wait_for_function(
        f"""(name) => {{
          const w = ({_PANEL_JS})(name);
          if (!w || !w.context.isReady) return false;
          const k = w.sessionContext.session && w.sessionContext.session.kernel;
          return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
        }}""",
        arg=name,
        timeout=SERVER_START_S * 1000,
    )
    # Record every error the kernel reports, whoever displays it: cell errors, and errors
    # raised in widget callbacks (which Lab routes to its log console, not to a cell).
    panel_id = page.evaluate(
        f"""(name) => {{
          const w = ({_PANEL_JS})(name);
          window.__kernelErrors = [];
          w.sessionContext.session.kernel.iopubMessage.connect((_, msg) => {{
            const c = msg.content;
            window.__lastIopub = Date.now();
            if (msg.header.msg_type === 'error') {{
              window.__kernelErrors.push(c.ename + ': ' + c.evalue);
            }} else if (msg.header.msg_type === 'stream' && c.name === 'stderr' &&
                       c.text.includes({json.dumps(TRACEBACK)})) {{
              window.__kernelErrors.push(c.text.slice(-600));
            }}
          }});
          return w.id;
        }}""",
        name,
    )
    return page.locator(f"[id='{panel_id}']")


def wait_kernel_settled(page, name: str, quiet_ms: int = 1500, timeout_s: float = RUN_ALL_S) -> None:
    """Wait until the kernel is idle and silent for `quiet_ms` (widget callbacks all handled)."""
    page.wait_for_function(
        f"""([name, quietMs, start]) => {{
          const w = ({_PANEL_JS})(name);
          const k = w.sessionContext.session.kernel;
          const now = Date.now();
          if (k.status !== 'idle') return false;
          return now - Math.max(start, window.__lastIopub || 0) >= quietMs;
        }}""",
        arg=[name, quiet_ms, page.evaluate("() => Date.now()")],
        timeout=timeout_s * 1000,
        polling=100,
    )


def run_cells(page, name: str, upto: int | None = None) -> dict:
    """Clear outputs, then run all cells (or cells 0..upto) and wait until they finished."""
    return page.evaluate(
        f"""async ([name, upto, timeoutMs]) => {{
          const app = window.jupyterapp;
          const w = ({_PANEL_JS})(name);
          app.shell.activateById(w.id);
          await app.commands.execute('notebook:clear-all-cell-outputs');
          let run;
          if (upto === null || upto + 1 >= w.content.widgets.length) {{
            run = app.commands.execute('notebook:run-all-cells');
          }} else {{
            w.content.activeCellIndex = upto + 1;
            w.content.deselectAll();
            run = app.commands.execute('notebook:run-all-above');
          }}
          const timeout = new Promise(resolve => setTimeout(() => resolve('timeout'), timeoutMs));
          const ok = await Promise.race([run, timeout]);
          return {{ok: ok}};
        }}""",
        [name, upto, RUN_ALL_S * 1000],
    )


def notebook_state(page, name: str) -> dict:
    """Per code cell: execution count, output types, traceback text; plus kernel status."""
    return page.evaluate(
        f"""(name) => {{
          const w = ({_PANEL_JS})(name);
          const cells = w.content.widgets.map((c, i) => {{
            const m = c.model;
            if (m.type !== 'code') return {{index: i, type: m.type}};
            const outputs = m.outputs.toJSON();
            return {{
              index: i, type: 'code', source: m.sharedModel.getSource().slice(0, 120),
              count: m.executionCount,
              outputTypes: outputs.map(o => o.output_type),
              mimes: outputs.flatMap(o => Object.keys(o.data || {{}})),
              errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
            }};
          }});
          const k = w.sessionContext.session && w.sessionContext.session.kernel;
          return {{cells: cells, kernel: k ? k.status : null}};
        }}""",
        name,
    )


def dom_tracebacks(page) -> list[str]:
    """Tracebacks rendered anywhere on the page: cell outputs, Output widgets, log console."""
    return page.evaluate(
        f"""() => [...document.querySelectorAll('.jp-RenderedText, .jp-LogConsolePanel')]
              .map(e => e.innerText).filter(t => t.includes({json.dumps(TRACEBACK)}))
              .map(t => t.slice(0, 600))"""
    )


def widget_errors(page) -> list[str]:
    """ipywidgets' own 'could not render' messages (e.g. a model that never arrived)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.jp-OutputArea-output')]
              .map(e => e.innerText)
              .filter(t => /Error displaying widget|Failed to load model|Error rendering/.test(t))
              .map(t => t.slice(0, 300))"""
    )


def assert_ran_cleanly(page, name: str, upto: int | None = None) -> dict:
    state = notebook_state(page, name)
    code = [c for c in state["cells"] if c["type"] == "code" and c["source"].strip()]
    if upto is not None:
        code = [c for c in code if c["index"] <= upto]
    errors = [f"cell {c['index']}: {e}" for c in code for e in c["errors"]]
    assert not errors, f"cells raised in {name}: {errors}"
    kernel_errors = page.evaluate("() => window.__kernelErrors")
    assert not kernel_errors, f"the kernel reported errors (cells or widget callbacks): {kernel_errors}"
    assert not dom_tracebacks(page), f"tracebacks on the page: {dom_tracebacks(page)}"
    assert not widget_errors(page), f"widgets failed to render: {widget_errors(page)}"
    not_run = [c["index"] for c in code if c["count"] is None]
    assert not not_run, f"cells never ran in {name}: {not_run}"
    return state


def cell_at(page, panel, name: str, index: int):
    """Locator for the cell widget at `index` (marked through Lab's own model, not DOM order)."""
    page.evaluate(
        f"""([name, index]) => ({_PANEL_JS})(name).content.widgets[index].node
              .setAttribute('data-e2e-cell', String(index))""",
        [name, index],
    )
    return panel.locator(f"[data-e2e-cell='{index}']")


class Phases:
    """Wall-clock time per step, printed and kept in test-artifacts/browser/timings.txt."""

    def __init__(self, test: str):
        self.test, self.t0, self.last = test, time.monotonic(), time.monotonic()

    def __call__(self, step: str) -> None:
        now = time.monotonic()
        line = f"{self.test}: {step:<28} {now - self.last:6.1f} s (total {now - self.t0:6.1f} s)"
        self.last = now
        print(line)
        with open(ARTIFACTS / "timings.txt", "a") as f:
            f.write(line + "\n")


def shot(locator_or_page, name: str) -> Path:
    path = ARTIFACTS / name
    if hasattr(locator_or_page, "scroll_into_view_if_needed"):
        locator_or_page.scroll_into_view_if_needed()
    locator_or_page.screenshot(path=str(path))
    return path


_WIDGET_SNAPSHOT_JS = """
(cell) => ({
  images: [...cell.querySelectorAll('img')].map(i => i.src),
  // The mixer's readout carries the CSS class musicgan-readout; other notebooks: any
  // HTML/Label widget that is not a slider's own description.
  readouts: [...cell.querySelectorAll('.musicgan-readout')].length
      ? [...cell.querySelectorAll('.musicgan-readout')].map(e => e.innerText.trim())
      : [...cell.querySelectorAll('.widget-html-content, .widget-htmlmath-content, .widget-label')]
          .filter(e => !e.closest('.widget-slider'))
          .map(e => e.innerText.trim()).filter(t => t),
  sliders: [...cell.querySelectorAll('.widget-slider .widget-readout')].map(e => e.innerText),
  audio: [...cell.querySelectorAll('audio')].map(a => ({
      src: (a.currentSrc || a.src || (a.querySelector('source') ? a.querySelector('source').src : '')).slice(0, 64),
      readyState: a.readyState, duration: a.duration, error: a.error ? a.error.code : null})),
})
"""


def wait_for_audio(cell, timeout_s: float = 10.0) -> dict:
    """Snapshot the widget cell once its audio players (if any) have loaded their sound."""
    deadline = time.monotonic() + timeout_s
    while True:
        snap = cell.evaluate(_WIDGET_SNAPSHOT_JS)
        loaded = all(a["readyState"] >= 1 or a["error"] is not None for a in snap["audio"])
        if loaded or time.monotonic() > deadline:
            return snap
        time.sleep(0.2)


def move_slider(page, slider) -> None:
    """Move an ipywidgets 8 (noUiSlider) slider: arrow keys on its handle, else a mouse drag."""
    readout = slider.locator(".widget-readout")
    start = readout.inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    for _ in range(10):
        handle.press("ArrowRight")
    if readout.inner_text() != start:
        return
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


# --------------------------------------------------------------------------- tests


def test_wave_composition_widgets_in_lab(lab, page):
    """Chapter 5 in Lab: run all, move a frequency slider, the plot and readout follow."""
    if not (lab.notebooks / WAVE_NOTEBOOK).exists():
        pytest.fail(f"notebooks/{WAVE_NOTEBOOK} is missing; build it with `make notebooks NB=05`")
    phase = Phases("05")
    panel = open_notebook(page, lab, WAVE_NOTEBOOK)
    phase("open + kernel idle")
    result = run_cells(page, WAVE_NOTEBOOK)
    phase("run all cells")
    wait_kernel_settled(page, WAVE_NOTEBOOK)
    phase("kernel settled")
    assert_ran_cleanly(page, WAVE_NOTEBOOK)
    assert result["ok"] is True, f"run-all did not finish: {result}"

    # The first cell whose live widgets include a slider labelled "freq ..." (e.g. "freq 1 (Hz)").
    freq = re.compile(r"freq", re.I)
    cells = panel.locator(".jp-Cell").filter(has=page.locator(".widget-slider .widget-label", has_text=freq))
    assert cells.count() > 0, f"no slider labelled 'freq ...' rendered in {WAVE_NOTEBOOK}"
    cell = cells.first
    outputs = cell.locator(".jp-Cell-outputArea")
    slider = cell.locator(".widget-slider").filter(has=page.locator(".widget-label", has_text=freq)).first
    before = wait_for_audio(cell)
    shot(outputs, "05-widgets-before.png")
    assert before["images"], "the widget cell shows no plot"
    assert before["readouts"], "the widget cell shows no readout text"
    assert before["audio"], "the widget cell has no audio player"
    for player in before["audio"]:
        playable = player["src"] and player["error"] is None and player["duration"] > 0
        assert playable, f"the audio player has no playable sound: {player}"

    phase("widget checks")
    move_slider(page, slider)
    wait_kernel_settled(page, WAVE_NOTEBOOK, timeout_s=WIDGET_CHANGE_S)
    page.wait_for_timeout(500)  # the last redraw reaches the DOM
    after = wait_for_audio(cell)
    phase("slider moved, redrawn")
    shot(outputs, "05-widgets-after.png")
    shot(page, "05-page.png")
    assert after["sliders"] != before["sliders"], f"the slider did not move: {before['sliders']}"
    assert after["images"] and after["images"] != before["images"], "the plot did not change after the slider moved"
    assert after["readouts"] != before["readouts"], f"the readout did not change: {before['readouts']}"
    assert after["audio"], "the audio player disappeared after the slider moved"
    assert_ran_cleanly(page, WAVE_NOTEBOOK)


def _first_image_cell(path: Path) -> int:
    """Index of the first code cell whose committed output is an image (the sample grid)."""
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        for out in cell.get("outputs", []):
            if "image/png" in out.get("data", {}):
                return i
    raise AssertionError(f"{path.name} has no committed image output to look for")


def test_gan_chapter_sample_grid_in_lab(lab, page):
    """A GAN chapter in Lab: open it, run the first cells, the sample grid image appears."""
    found = [p.name for pattern in GAN_NOTEBOOKS for p in sorted(lab.notebooks.glob(pattern))]
    name = found[0] if found else None
    if name is None:
        pytest.fail(f"none of {GAN_NOTEBOOKS} exist in notebooks/; build one with `make notebooks NB=01`")
    upto = _first_image_cell(lab.notebooks / name)
    phase = Phases(name[:2])
    panel = open_notebook(page, lab, name)
    phase("open + kernel idle")
    result = run_cells(page, name, upto=upto)
    phase(f"run cells 0..{upto}")
    wait_kernel_settled(page, name)
    state = assert_ran_cleanly(page, name, upto=upto)
    assert result["ok"] is True, f"running cells 0..{upto} did not finish: {result}"
    grid = state["cells"][upto]
    assert "image/png" in grid["mimes"], f"cell {upto} produced no image: {grid}"
    cell = cell_at(page, panel, name, upto)
    img = cell.locator(".jp-OutputArea-output img").first
    img.wait_for(state="visible")
    box = img.bounding_box()
    assert box and box["width"] > 50 and box["height"] > 50, f"the sample grid image is not shown: {box}"
    from musicgan_lib.course import kernel_manager_class

    if kernel_manager_class().__name__ == "EncryptedKernelManager":  # pyzmq with Curve, jupyter_client >= 8.9
        # scripts/lab_config has the server provision CurveZMQ keys; ipykernel warns when it did not.
        assert "without encryption" not in lab.log_path.read_text(errors="replace"), lab.log_tail()
    shot(cell, f"{name[:2]}-sample-grid.png")
    shot(page, f"{name[:2]}-page.png")
