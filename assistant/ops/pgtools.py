"""PostgreSQL's client tools (`pg_dump`, `pg_restore`) for backups: the ones the `pgserver`
wheel ships next to the embedded server's `postgres`, or the system's for a server of
one's own, whichever is new enough for the server (or the dump) at hand."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from assistant.config import ConfigError


class ToolFailed(RuntimeError):
    """A client tool exited non-zero; the message is its last lines of stderr."""


def bundled_bin() -> Path | None:
    """pgserver's `pginstall/bin`, found without importing pgserver (which looks at the
    user's runtime folders on import)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def server_version(conninfo: str) -> tuple[int, str]:
    """(major, full text) of the server, e.g. (16, "16.2")."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('server_version_num')::int, current_setting('server_version')"
        ).fetchone()
    assert row is not None
    return int(row[0]) // 10000, str(row[1])


def tool_major(path: str) -> int | None:
    """The major version a tool reports (`pg_dump (PostgreSQL) 15.18 (Debian ...)`)."""
    try:
        out = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s*(\d+)", out)
    return int(match.group(1)) if match else None


def find_tool(name: str, major: int, *, embedded: bool, bundled: Path | None = None) -> str:
    """A `name` whose major version is at least `major`: pg_dump refuses a newer server,
    and pg_restore an archive written by a newer pg_dump.

    The embedded server's own tools come first for it; for a server of one's own, the
    system's (they match its version when installed with it), then the bundled ones, which
    serve any server up to their own version. With none fit: one line saying what to
    install."""
    bundled = bundled if bundled is not None else bundled_bin()
    local = str(bundled / name) if bundled is not None and (bundled / name).is_file() else None
    system = shutil.which(name)
    order = [local, system] if embedded else [system, local]
    seen: list[str] = []
    for candidate in filter(None, order):
        found = tool_major(candidate)
        if found is not None and found >= major:
            return candidate
        seen.append(f"{candidate} is version {found or '?'}")
    why = f" ({'; '.join(seen)})" if seen else ""
    raise ConfigError(
        f"{name} for PostgreSQL {major} is missing{why}; install the client tools,"
        f" e.g. `apt-get install postgresql-client-{major}`"
    )


def without_password(conninfo: str) -> tuple[str, dict[str, str]]:
    """The connection string minus its password, and an environment carrying it: a
    password in a command's arguments is visible to every account (`ps`)."""
    params = conninfo_to_dict(conninfo)
    password = params.pop("password", None)
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **params), env


def run_tool(argv: list[str], env: dict[str, str] | None = None) -> None:
    """Run a client tool (an argument list, never a shell); ToolFailed with its stderr."""
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:]) or f"exit {done.returncode}"
        raise ToolFailed(f"{Path(argv[0]).name} failed: {tail}")
