"""Starting the app headless and driving Debian's Chromium, shared by the browser tests
(``tests/browser/conftest.py``), the page bench (``bench/bench_pages.py``) and the
README's screenshots (``docs/take_screenshots.py``).

``playwright install`` cannot download browsers here; Playwright drives the Debian
package instead (``apt-get install -y chromium``), with flags that keep it from reaching
the network.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("MART_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A second page (the browser tests' watcher session) is a background page to
    # Chromium, whose timers it may throttle: Streamlit's polling fragment then stopped
    # updating for 30 s in one run. A visible window of a real user is not throttled.
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_app(
    workspace: Path,
    port: int,
    env: dict[str, str] | None = None,
    output: IO[bytes] | int = subprocess.DEVNULL,
    script: str = "streamlit_app.py",
) -> subprocess.Popen[bytes]:
    """``streamlit run streamlit_app.py`` (or ``script``, relative to the repository) on
    ``workspace``, headless, on 127.0.0.1:``port``.

    In its own process group (stop it with ``os.killpg``); ``env`` replaces the
    environment (default: this one), MART_WORKSPACE is set either way. Returns at once:
    see :func:`wait_healthy`.
    """
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env={**(os.environ if env is None else env), "MART_WORKSPACE": str(workspace)},
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(url: str, server: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until the server answers; False if it died or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while not healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def stop_app(server: subprocess.Popen[bytes]) -> None:
    """Stop a server from :func:`start_app` and everything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
