"""Start the local stack as a child process on a free port and wait until it is healthy.

Used by ``make demo`` (``python -m prakerja_local.demo --start``) and by the end-to-end tests, so
both drive the stack exactly as ``make run`` does, over HTTP.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RunningStack:
    """A child ``python -m prakerja_local`` process and its base URL."""

    process: subprocess.Popen
    base_url: str
    log_path: Path

    def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 10 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(log_path: Path, env: Mapping[str, str] | None = None, port: int | None = None,
          timeout: float = 120.0) -> RunningStack:
    """Start the stack (stderr and stdout to ``log_path``) and wait for ``/_local/health``.

    Raises RuntimeError with the log's tail when it does not become healthy in ``timeout`` s."""
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 - owned by the child for its life
    child_env = {**os.environ, **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "prakerja_local", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT, env=child_env)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{base_url}/_local/health", timeout=2).status_code == 200:
                return RunningStack(process, base_url, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    RunningStack(process, base_url, log_path).stop()
    tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
    raise RuntimeError(f"local stack did not become healthy:\n{tail}")
