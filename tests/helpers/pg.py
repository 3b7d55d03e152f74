"""Restarting and stopping an embedded PostgreSQL under a running app (outage tests)."""

from __future__ import annotations

import shlex
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
    warnings.simplefilter("ignore")
    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
    from pgserver.postgres_server import PostmasterInfo


def _refresh(server: Any) -> None:
    # pgserver stops the server at exit only if it knows the running postmaster.
    info = PostmasterInfo.read_from_pgdata(server.pgdata)
    if info is not None:
        server._postmaster_info = info


def restart(server: Any) -> None:
    pg_ctl(["-w", "restart", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)
    _refresh(server)


def stop(server: Any) -> None:
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=server.pgdata, user=server.system_user)


def start(server: Any) -> None:
    """Start it again with the options it last ran with (postmaster.opts)."""
    words = shlex.split((Path(server.pgdata) / "postmaster.opts").read_text())
    options: list[str] = []
    skip = False
    for word in words[1:]:  # the postgres binary first, then its arguments
        if skip:
            skip = False
            continue
        if word == "-D":  # pg_ctl gives the data directory itself
            skip = True
            continue
        options.append(shlex.quote(word) if word else '""')
    pg_ctl(
        ["-w", "-o", " ".join(options), "-l", str(server.log), "start"],
        pgdata=server.pgdata,
        user=server.system_user,
    )
    _refresh(server)
