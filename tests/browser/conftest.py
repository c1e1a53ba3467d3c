"""Fixtures of the browser tests: one JupyterLab and one Voilà server for the whole session,
on free loopback ports, with isolated Jupyter config/data/runtime/settings directories,
serving a temporary copy of ``notebooks/`` (so checkpoints and autosave never touch the
repository); one headless Debian Chromium driven by Playwright; every request that is not
to 127.0.0.1/localhost is aborted.

Chromium is ``/usr/bin/chromium`` (Debian's ``chromium`` package; override with
``$CHROMIUM``). Without it the tests skip with the reason, unless
``KSMLAB_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they fail.

Screenshots go to a pytest temporary directory and are copied to ``$KSMLAB_SCREENS``
(default ``/tmp/ksmlab-screens``).
"""

import os
import re
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

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
REQUIRE = os.environ.get("KSMLAB_REQUIRE_BROWSER") == "1"
SCREENS = Path(os.environ.get("KSMLAB_SCREENS", "/tmp/ksmlab-screens"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost)(:\d+)?/")
APP = "app/classroom.ipynb"
# what `make app` passes (the Makefile's APP_OPTIONS), with a short idle time so that a test
# can see an orphaned kernel culled
CULL_IDLE = 6
VOILA_APP_OPTIONS = [
    "--template=ksmlab",
    "--VoilaConfiguration.extension_denylist=@jupyter-notebook/lab-extension",
    f"--MappingKernelManager.cull_idle_timeout={CULL_IDLE}",
    "--MappingKernelManager.cull_interval=2",
    "--MappingKernelManager.cull_connected=False",
]
SERVER_START_TIMEOUT = 90


def _missing_browser() -> str:
    """Why the browser tests cannot run here ("" if they can)."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set $CHROMIUM)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed"
    return ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _isolated_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "IPYTHONDIR": str(tmp / "ipython"),
            "JUPYTERLAB_SETTINGS_DIR": str(tmp / "lab-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "lab-workspaces"),
            "MPLCONFIGDIR": str(tmp / "mpl"),
            "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        }
    )
    env.pop("MPLBACKEND", None)
    settings = tmp / "lab-settings" / "@jupyterlab"
    # no "Would you like to get notified about official Jupyter news?" toast
    (settings / "apputils-extension").mkdir(parents=True, exist_ok=True)
    (settings / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    # every cell in the DOM, so the tests can see all prompts and outputs
    (settings / "notebook-extension").mkdir(parents=True, exist_ok=True)
    (settings / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}'
    )
    return env


class Server:
    """A server in its own process group (killed as a group), logging to ``log``, that is
    ready when ``url + ready`` answers."""

    def __init__(self, name, cmd, cwd, env, log: Path, url: str, ready: str):
        self.name, self.url, self.log_path, self.ready = name, url, log, ready
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + self.ready, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer at {self.url}{self.ready}")

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        self.log.close()


def serve(value, *servers: Server):
    """A server fixture's body (``yield from serve(value, *servers)``): wait until every
    server, all started at once, is ready; yield ``value``; stop them all at the end, also
    when one never answers."""
    try:
        for srv in servers:
            srv.wait()
        yield value
    finally:
        for srv in servers:
            srv.stop()


def jupyter_server(app, name, nb_dir, tmp: Path, *options) -> Server:
    """JupyterLab or Notebook 7 (``python -m <app>``) on a free port, serving ``nb_dir``
    with no token or password, its Jupyter directories under ``tmp``, its log ``tmp.log``."""
    port = _free_port()
    return Server(
        name,
        [
            sys.executable,
            "-m",
            app,
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--allow-root",
            "--IdentityProvider.token=",
            "--PasswordIdentityProvider.hashed_password=",
            *options,
            f"--ServerApp.root_dir={nb_dir}",
        ],
        cwd=nb_dir,
        env=_isolated_env(tmp),
        log=tmp.with_suffix(".log"),
        url=f"http://127.0.0.1:{port}",
        ready="/api/status",
    )


@pytest.fixture(scope="session")
def chromium():
    """Chromium's path; skips (or fails with KSMLAB_REQUIRE_BROWSER=1) without it."""
    reason = _missing_browser()
    if reason:
        if REQUIRE:
            pytest.fail(f"KSMLAB_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def nb_dir(chromium, tmp_path_factory):
    """A copy of notebooks/ for the servers."""
    d = tmp_path_factory.mktemp("served") / "notebooks"
    shutil.copytree(ROOT / "notebooks", d, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return d


@pytest.fixture(scope="session")
def servers(nb_dir, tmp_path_factory):
    """{"lab": url, "voila": url}: both started at once, stopped at the end."""
    tmp = tmp_path_factory.mktemp("servers")
    lab = jupyter_server(
        "jupyterlab",
        "JupyterLab",
        nb_dir,
        tmp / "lab",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    )
    voila_env = _isolated_env(tmp / "voila")
    voila_env["JUPYTER_PATH"] = str(nb_dir / "app" / "share" / "jupyter")
    voila_port = _free_port()
    voila = Server(
        "Voila",
        [
            sys.executable,
            "-m",
            "voila",
            APP,
            "--no-browser",
            f"--port={voila_port}",
            "--Voila.ip=127.0.0.1",
            *VOILA_APP_OPTIONS,
        ],
        cwd=nb_dir,
        env=voila_env,
        log=tmp / "voila.log",
        url=f"http://127.0.0.1:{voila_port}",
        ready="/voila/static/",
    )
    urls = {"lab": lab.url, "voila": voila.url, "voila_log": voila.log_path}
    yield from serve(urls, lab, voila)


@pytest.fixture(scope="session")
def browser(chromium, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS, env=env)
        yield b
        b.close()


def new_page(browser, width=1400, height=1000, color_scheme="light"):
    """A fresh context and page; only loopback requests leave it (the rest is aborted
    and recorded in ``page.blocked``); console messages and uncaught page errors are kept in
    ``page.console`` as "type: text"."""
    ctx = browser.new_context(viewport={"width": width, "height": height},
                              color_scheme=color_scheme)
    blocked = []

    def abort(route):
        blocked.append(route.request.url)
        route.abort()

    ctx.route(lambda url: not LOOPBACK.match(url), abort)
    pg = ctx.new_page()
    pg.set_default_timeout(60_000)
    pg.blocked = blocked
    pg.console = []
    pg.on("console", lambda m: pg.console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: pg.console.append(f"pageerror: {e}"))
    return pg


@pytest.fixture
def page(browser):
    """A page as new_page() makes it, closed after the test."""
    pg = new_page(browser)
    yield pg
    pg.context.close()


@pytest.fixture(scope="session")
def screens(tmp_path_factory):
    """save(page, name, locator=None, full_page=False): a PNG in the pytest temp dir,
    copied to SCREENS."""
    d = tmp_path_factory.mktemp("screens")
    SCREENS.mkdir(parents=True, exist_ok=True)

    def save(pg, name, locator=None, full_page=False):
        path = d / f"{name}.png"
        if locator is not None:
            locator.evaluate("e => e.scrollIntoView({block: 'center'})")
        pg.screenshot(path=str(path), full_page=full_page)
        shutil.copy(path, SCREENS / path.name)
        return path

    return save


@pytest.fixture(scope="session")
def textbook():
    """Scenario name -> the explorer's shortest breaking schedule with its fix off."""
    import ksmlab
    from ksmlab import Fixes

    out = {}
    for name in ksmlab.scenarios.names()[:4]:
        scn = ksmlab.scenarios.get(name)
        out[name] = ksmlab.explore(name, fixes=Fixes.all().without(scn.fix)).counterexample
    return out


BOOK = ROOT / "build" / "book" / "html"


@pytest.fixture(scope="session")
def book_url(chromium, tmp_path_factory):
    """The static book (``make book``; built here if it is missing), served from
    ``build/book/html`` by Python's http.server on a loopback port."""
    if not (BOOK / "index.html").exists():
        subprocess.run([sys.executable, str(ROOT / "docs" / "book" / "build.py")], check=True)
    tmp = tmp_path_factory.mktemp("book")
    port = _free_port()
    srv = Server(
        "the book's http.server",
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
         "--directory", str(BOOK)],
        cwd=tmp,
        env=dict(os.environ),
        log=tmp / "http.log",
        url=f"http://127.0.0.1:{port}",
        ready="/index.html",
    )
    yield from serve(srv.url, srv)


@pytest.fixture(scope="session")
def notebook7(nb_dir, tmp_path_factory):
    """A Notebook 7 server (``jupyter notebook``) on the copy of notebooks/."""
    tmp = tmp_path_factory.mktemp("notebook7") / "notebook7"
    srv = jupyter_server("notebook", "Notebook 7", nb_dir, tmp)
    yield from serve(srv.url, srv)
