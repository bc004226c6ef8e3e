"""Notebook 07 in a real browser: JupyterLab on 127.0.0.1, headless Chromium, a formula drawn with the mouse.

Needs Debian's `chromium` (`.ci/run` installs it) and the `playwright` package (requirements.txt), which
drives that browser and downloads none of its own. Skips, saying so, where Chromium is absent. The
screenshot lands in <IM2LATEX_HOME>/outputs/tests/try_it.png (the README shows one).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install "
                                                         "chromium): the browser test of notebook 07 needs it")
# a rough "x + 1": each stroke a list of (x, y) in canvas pixels
STROKES = [[(60, 60), (120, 150)], [(120, 60), (60, 150)], [(170, 105), (240, 105)], [(205, 70), (205, 140)],
           [(280, 80), (300, 62), (300, 150)]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checkpoints(home: Path) -> bool:
    return any((home / "outputs").glob("*/model*/best.pt"))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving the repository (autosave off: the notebook file is never written), stopped after."""
    home = Path(os.environ["IM2LATEX_HOME"])
    if not _checkpoints(home):  # this file alone: a smoke model to read with
        r = subprocess.run([sys.executable, "-m", "lib.series", "--profile", "smoke", "--only", "01,02,04"], cwd=ROOT,
                           env=dict(os.environ), capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    cfg = tmp_path_factory.mktemp("jupyter")
    (cfg / "labconfig").mkdir()
    (cfg / "labconfig" / "default_setting_overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/docmanager-extension:plugin": {"autosave": False}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(cfg), "JUPYTER_RUNTIME_DIR": str(cfg / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(cfg / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(cfg / "ws")}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           f"--LabApp.workspaces_dir={cfg / 'ws'}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    log = open(cfg / "server.log", "w")
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("JupyterLab did not start: " + (cfg / "server.log").read_text()[-2000:])
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(server.pid, 15)  # the server and the kernels it started
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
        log.close()


def test_draw_a_formula_and_read_it_back(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    notebook = ROOT / "notebooks" / "07_try_it.ipynb"
    before = notebook.read_bytes()
    shot = Path(os.environ["IM2LATEX_HOME"]) / "outputs" / "tests" / "try_it.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--disable-gpu", "--disable-quic", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2400})
            page.goto(f"{base}/lab/tree/notebooks/07_try_it.ipynb?token={token}")
            page.locator("#jupyterlab-splash").wait_for(state="detached", timeout=120_000)
            page.locator(".jp-Notebook").wait_for(timeout=120_000)
            page.wait_for_function("""() => { const t = document.querySelector('#jp-main-statusbar')?.textContent ?? '';
                return t.includes('Idle') && !['Connecting', 'Initializing', 'Starting'].some(s => t.includes(s)); }""",
                                   timeout=120_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            canvas = page.locator(".jp-OutputArea-output canvas").first
            canvas.wait_for(state="visible", timeout=300_000)
            read = page.get_by_role("button", name="Read")
            expect(read).to_be_enabled(timeout=60_000)
            canvas.scroll_into_view_if_needed()
            box = canvas.bounding_box()
            sx, sy = box["width"] / 720, box["height"] / 220  # canvas pixels -> screen pixels
            for stroke in STROKES:
                x0, y0 = stroke[0]
                page.mouse.move(box["x"] + x0 * sx, box["y"] + y0 * sy)
                page.mouse.down()
                for x, y in stroke[1:]:
                    page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=8)
                page.mouse.up()
            page.wait_for_timeout(500)
            read.click()
            status = page.locator(".widget-html", has_text="read with")
            expect(status).to_be_visible(timeout=120_000)
            latex = page.locator(".widget-textarea textarea").first
            expect(latex).not_to_have_value("", timeout=10_000)
            rendered = page.locator(".widget-image img, img.widget-image")
            assert rendered.count() >= 3  # the model's view, the rendered LaTeX, the attention
            assert all(rendered.nth(i).evaluate("img => img.naturalWidth > 0") for i in range(rendered.count()))
            panel = page.locator(".widget-vbox", has=page.get_by_role("button", name="Read")).first
            panel.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    assert notebook.read_bytes() == before  # the repository's notebook stays without outputs
    print(f"screenshot: {shot}")
