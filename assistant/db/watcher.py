"""A watcher process that makes sure an embedded PostgreSQL never outlives its owner.

Exit handlers and signal handlers stop the embedded server when a command ends, but they
cannot cover every moment: SIGKILL skips them, and a SIGTERM that lands while pgserver is
still starting the server (its `pg_ctl start` running, the postmaster not yet recorded)
left the postmaster running with no one to stop it (issue #24). So the owner starts this
small process *before* the server, and keeps the write end of a pipe whose read end is
the watcher's stdin. The kernel closes that pipe whenever the owner dies, however it
dies: end-of-file is the watcher's cue. It then

- waits for programs the owner left half-way (`initdb`, `pg_ctl start`) to finish,
- stops the server on that data folder (a fast shutdown, escalating to SIGQUIT and
  SIGKILL) unless another live process still uses it: pgserver shares one server among
  processes and lists them in `.handle_pids.json`; dead ones are pruned from that list,
  or pgserver itself would never stop the server afterwards,
- deletes the data folder (pgserver's cleanup_mode="delete") and any folder it was told
  to remove (a sandbox's temporary folder).

It holds pgserver's own inter-process lock while deciding and stopping, so a process
starting to use the server at that moment either is in the list or starts it afresh.

The owner tells it what to watch in JSON lines on the same pipe, *before* it creates
each thing (a folder's name is sent before the folder is made), so no moment exists when
something of the owner's is not known to its watcher. `release()` ends the watch without
action (a sandbox closed normally). The watcher runs in a session of its own, so a
terminal's Ctrl-C or hang-up reaches the owner, not it.

This file runs as a script (`python -I watcher.py`): it imports nothing of the
assistant's, and the third-party modules it needs (psutil, fasteners: pgserver's own
dependencies) only once the owner is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# How long the watcher waits for an orphaned `initdb` or `pg_ctl start` to finish before
# it stops them, and for a postmaster to stop after each signal before a harsher one.
STARTERS_WAIT = 60.0
STOP_WAITS = ((signal.SIGINT, 20.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0))
GIVE_UP = STARTERS_WAIT + sum(wait for _, wait in STOP_WAITS) + 10

_SERVERS = ("postgres", "postmaster")
_STARTERS = ("pg_ctl", "initdb")
_SHELLS = ("sh", "bash", "dash")  # pg_ctl starts the postmaster with `sh -c "exec ..."`


class Watcher:
    """The owner's side: a watcher process and the pipe that keeps it waiting."""

    # Every watcher of this process stays referenced until exit: a collected Watcher
    # would close its pipe, and the watcher would take the owner for dead.
    _all: list[Watcher] = []

    def __init__(self) -> None:
        read_end, self._write_end = os.pipe()  # both non-inheritable (PEP 446)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).resolve())],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C and hang-ups are the owner's business
            )
        except BaseException:
            os.close(self._write_end)
            raise
        finally:
            os.close(read_end)
        self._open = True
        Watcher._all.append(self)

    def watch_server(self, pgdata: Path, lock: Path, delete: bool) -> None:
        """Stop the server on `pgdata` (and delete the folder if `delete`) once the owner
        is gone and no other live process uses it; call before starting the server."""
        self._send(pgdata=str(pgdata), lock=str(lock), delete=delete, owner=os.getpid())

    def remove(self, folder: Path) -> None:
        """Remove `folder` once the owner is gone; call before creating it."""
        self._send(remove=str(folder))

    def keep(self, folder: Path) -> None:
        """Forget a folder named by `remove()` (it turned out not to be the owner's)."""
        self._send(keep=str(folder))

    def release(self) -> None:
        """The owner cleaned up itself: end the watch, doing nothing."""
        if self._open:
            try:
                self._send(release=True)
            finally:
                self._open = False
                os.close(self._write_end)
                Watcher._all.remove(self)

    def _send(self, **message: Any) -> None:
        data = (json.dumps(message) + "\n").encode()
        # One write below PIPE_BUF is atomic: the watcher reads whole lines or none.
        if len(data) >= 4096:
            raise ValueError("watcher message too long")
        try:
            os.write(self._write_end, data)
        except OSError:  # the watcher died: the exit handlers are all that is left
            logging.getLogger(__name__).warning("the embedded PostgreSQL watcher is gone")


# --- the watcher process ------------------------------------------------------------------


def _log(text: str) -> None:
    # The owner's stderr, which may be a terminal closed by now: never fail over a log.
    with contextlib.suppress(Exception):
        print(f"embedded PostgreSQL watcher {os.getpid()}: {text}", file=sys.stderr, flush=True)


def _read_until_owner_gone() -> tuple[list[dict[str, Any]], list[str], bool]:
    """The servers and folders to look after, and whether the owner released the watch,
    read from stdin until end-of-file."""
    servers: list[dict[str, Any]] = []
    folders: list[str] = []
    released = False
    for line in sys.stdin.buffer:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("release"):
            released = True
        elif "pgdata" in message:
            servers.append(message)
        elif "remove" in message:
            folders.append(message["remove"])
        elif message.get("keep") in folders:
            folders.remove(message["keep"])
    return servers, folders, released


def _alive(pid: int) -> bool:
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _processes_on(pgdata: str) -> tuple[list[Any], list[Any]]:
    """(servers, starters): postmasters running on `pgdata`, and programs that may still
    start one there or are building it (pg_ctl, initdb, the shell pg_ctl starts it with)."""
    import psutil

    servers, starters = [], []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        cmdline = proc.info["cmdline"] or []
        if not any(pgdata in arg for arg in cmdline):
            continue
        name = proc.info["name"] or ""
        if name in _SERVERS:
            servers.append(proc)
        elif name in _STARTERS or (name in _SHELLS and "postgres" in " ".join(cmdline)):
            starters.append(proc)
    # The postmaster recorded in the folder, even if its command line says otherwise.
    try:
        pid = int((Path(pgdata) / "postmaster.pid").read_text().split("\n", 1)[0])
        proc = psutil.Process(pid)
        if proc.name() in _SERVERS and all(p.pid != pid for p in servers):
            servers.append(proc)
    except (OSError, ValueError, psutil.Error):
        pass
    return servers, starters


def _other_users(pgdata: str, owner: int) -> list[int]:
    """Live processes other than the owner in pgserver's list of the server's users; the
    list is rewritten without the dead ones (pgserver stops the server only when the last
    process in that list leaves, so a dead entry would keep it running for ever)."""
    path = Path(pgdata) / ".handle_pids.json"
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (OSError, ValueError, TypeError):
        return []
    live = [p for p in pids if p != owner and _alive(p)]
    if live != pids:
        with contextlib.suppress(OSError):
            path.write_text(json.dumps(live))
    return live


def _stop(pgdata: str) -> None:
    """Stop everything running on `pgdata`, waiting first for half-done starts."""
    import psutil

    started = time.monotonic()
    deadline = started + STARTERS_WAIT
    signalled: dict[int, int] = {}  # postmaster pid -> index in STOP_WAITS
    since: dict[int, float] = {}
    while True:
        servers, starters = _processes_on(pgdata)
        if not servers and not starters:
            return
        now = time.monotonic()
        if now - started > GIVE_UP:
            _log(f"gave up stopping {[p.pid for p in servers + starters]} on {pgdata}")
            return
        if starters and now > deadline:
            for proc in starters:
                with contextlib.suppress(psutil.Error):
                    proc.terminate()
        for proc in servers:
            step = signalled.get(proc.pid, -1)
            if step == -1 or (
                step + 1 < len(STOP_WAITS) and now - since[proc.pid] > STOP_WAITS[step][1]
            ):
                step += 1
                try:
                    proc.send_signal(STOP_WAITS[step][0])
                except psutil.Error:
                    continue
                signalled[proc.pid], since[proc.pid] = step, now
        time.sleep(0.1)


def _look_after(server: dict[str, Any]) -> None:
    import fasteners

    pgdata = server["pgdata"]
    if not Path(pgdata).exists():
        return
    with fasteners.InterProcessLock(server["lock"]):
        users = _other_users(pgdata, int(server["owner"]))
        if users:
            _log(f"{pgdata} left running: still used by {users}")
            return
        _stop(pgdata)
        if server.get("delete"):
            shutil.rmtree(pgdata, ignore_errors=True)


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    servers, folders, released = _read_until_owner_gone()
    if released:
        return
    for server in servers:
        try:
            _look_after(server)
        except Exception as exc:  # noqa: BLE001 - the folders below must still go
            _log(f"could not stop the server on {server.get('pgdata')}: {exc!r}")
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
