"""Starting the project's own programs in subprocesses, as a user would."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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


def wait_healthy(
    base: str,
    proc: subprocess.Popen[Any],
    log: Callable[[], str] = lambda: "",
    timeout: float = 90,
) -> None:
    """Wait until the app at `base` answers /healthz (raising if its process ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"app exited: {log()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise AssertionError(f"app did not start within {timeout:g} s: {log()}")


def app_log(workdir: Path) -> str:
    """What the app started by `running_webhook(workdir)` printed so far."""
    return (workdir / "app.log").read_text(encoding="utf-8", errors="replace")


def printed_login_link(workdir: Path) -> str:
    """The one-click login link `make run` prints at start."""
    match = re.search(r"Open the app \(logs you in\): (\S+)", app_log(workdir))
    assert match, app_log(workdir)
    return match.group(1)


def run_assistant(
    workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m assistant ARGS` in `workdir` (with `clean_env()` unless `env` is
    given), which must succeed; its output is captured."""
    done = subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        cwd=workdir,
        env=clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def login_link(workdir: Path, base: str) -> str:
    """A fresh one-time login link for the app running in `workdir` (`assistant
    login-link`, as its user would ask): the printed one works only once."""
    done = run_assistant(workdir, "login-link", "--base-url", base)
    return done.stdout.strip().splitlines()[-1]


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
        wait_healthy(base, proc, lambda: app_log(workdir))
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@contextmanager
def web_and_worker(workdir: Path, env: dict[str, str], worker_threads: int) -> Iterator[str]:
    """The README's production shape: `uvicorn webhook:app --workers 2` (web only) plus
    an `assistant worker` process, run in `workdir` with `env`; yields the web's base URL.
    Both log to `workdir/web.log`."""
    port = free_port()
    with (workdir / "web.log").open("w") as logs:
        web = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "webhook:app", "--workers", "2"]
            + ["--port", str(port), "--no-proxy-headers"],
            cwd=workdir,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "assistant", "worker", "--threads", str(worker_threads)],
            cwd=workdir,
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(base, web, lambda: (workdir / "web.log").read_text(), timeout=120)
            yield base
        finally:
            for proc in (web, worker):
                proc.send_signal(signal.SIGTERM)
            for proc in (web, worker):
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()


def postgres_under(path: Path) -> list[int]:
    """PIDs of postmasters whose data directory is under `path`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [w.decode(errors="replace") for w in cmdline]
        if words and words[0].endswith("postgres") and any(str(path) in w for w in words):
            found.append(int(proc.name))
    return found
