"""Starting the project's own programs in subprocesses, as a user would."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
# Variables that would point a test at real services (or the developer's own data).
OUTSIDE = ("OPENAI_", "TWILIO_", "POSTGRES_", "DATABASE_", "BUCKET")


def clean_env(**values: object) -> dict[str, str]:
    """This environment without outside-service settings, plus `values`, importable code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OUTSIDE)}
    env.update({k: str(v) for k, v in values.items() if v is not None})
    env["PYTHONPATH"] = str(ROOT)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_log(workdir: Path) -> str:
    """What the app started by `running_webhook(workdir)` printed so far."""
    return (workdir / "app.log").read_text(encoding="utf-8", errors="replace")


def printed_login_link(workdir: Path) -> str:
    """The one-click login link `make run` prints at start."""
    match = re.search(r"Open the app \(logs you in\): (\S+)", app_log(workdir))
    assert match, app_log(workdir)
    return match.group(1)


@contextmanager
def running_webhook(workdir: Path, **values: object) -> Iterator[str]:
    """`python webhook.py` as `make run` starts it, in `workdir`; yields its base URL.
    Its output goes to `workdir/app.log` (a pipe nobody reads would fill up and stall it)."""
    port = free_port()
    log = (workdir / "app.log").open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "webhook.py")],
        cwd=workdir,
        env=clean_env(PORT=port, **values),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"app exited: {app_log(workdir)}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("app did not start within 90 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
