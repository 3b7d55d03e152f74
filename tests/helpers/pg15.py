"""Debian's PostgreSQL 15 (with contrib, without pgvector), started for a test run.

Production servers may be either kind; the embedded one is PostgreSQL 16 with pgvector.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def debian_pg15() -> Iterator[str]:
    """Yield an admin URL of a throw-away PostgreSQL 15 on 127.0.0.1."""
    if not (BIN / "postgres").exists():
        raise RuntimeError("Debian PostgreSQL 15 is not installed (apt-get install postgresql-15)")
    root = Path(tempfile.mkdtemp(prefix="pg15-"))
    os.chmod(root, 0o755)
    datadir = root / "data"
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root
        user = "postgres"
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    prefix = ["runuser", "-u", user, "--"] if user else []
    port = _free_port()
    subprocess.run(
        [
            *prefix,
            str(BIN / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *prefix,
            str(BIN / "pg_ctl"),
            "-D",
            str(datadir),
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -h 127.0.0.1 -k {root}",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(BIN / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
