"""Start ``sacral-tumor-ai web`` as its own process and wait until it serves (for tests, benchmarks and
scripts that drive the app from a browser), and the flags for Debian's headless Chromium."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_server(work_dir: Path, log: Path, volume: str | None = None, timeout_s: float = 120) -> tuple[subprocess.Popen, str]:
    """The app on ``volume`` (default: the bundled case) on a free local port; returns (process, URL).
    Raises ``RuntimeError`` with the log's end when it does not come up."""
    port = free_port()
    command = [sys.executable, "-m", "sacral_tumor_ai", "web", *([volume] if volume else []), "--port", str(port), "--work-dir", str(work_dir)]
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + timeout_s
    while url not in log.read_text(errors="replace") or not listening(port):
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            raise RuntimeError(f"the web app did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    return process, url
