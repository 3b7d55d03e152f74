"""Throw-away assistants on fresh databases: for evaluation, tests, notebooks, benchmarks.

One PostgreSQL server (embedded, or any server given by URL) holds a migrated template
database; every `fresh()` call clones it, which takes milliseconds instead of replaying
migrations.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import itertools
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psycopg

from assistant.config import Settings
from assistant.db import create_database, drop_database, embedded_server, migrate
from assistant.db.watcher import Watcher
from assistant.factory import Services, build_services

log = logging.getLogger(__name__)


class Sandbox:
    def __init__(self, admin_url: str | None = None, root: Path | None = None):
        self._own_root = root is None
        # A watcher process removes the folder and stops the server if this process dies
        # without doing so (SIGKILL, a signal at the wrong moment of the start): started
        # first, and told about the folder before the folder exists, so no moment exists
        # when either could be left behind (issue #24).
        self._watcher: Watcher | None = Watcher() if self._own_root or admin_url is None else None
        try:
            self.root = root or self._new_root()
        except BaseException:
            self._release_watcher()
            raise
        self.root.mkdir(parents=True, exist_ok=True)
        # Registered before the server's own exit handler, so it runs after it (LIFO): an
        # interrupted start or run leaves no folder even when pgserver, stopping the server
        # at exit, writes into it again after we removed it (seen under SIGINT/SIGTERM).
        self._remove_root = functools.partial(shutil.rmtree, self.root, True)
        if self._own_root:
            atexit.register(self._remove_root)
        # A server of our own is stopped by close(): exit handlers do not run in every
        # process that uses a sandbox (a Jupyter kernel is shut down without them).
        self._server: Any = None
        if admin_url is None:
            try:
                self._server, admin_url = embedded_server(
                    self.root / "pg", cleanup="delete", watcher=self._watcher
                )
            except BaseException:  # interrupted while starting: leave no folder behind
                if self._own_root:
                    shutil.rmtree(self.root, ignore_errors=True)
                raise
        self.admin_url = admin_url
        self._counter = itertools.count(1)
        self._template: str | None = None
        self._databases: list[str] = []
        self._services: list[Services] = []

    def _new_root(self) -> Path:
        """A new private temporary folder, named to the watcher before it is created."""
        parent = Path(tempfile.gettempdir())
        while True:
            root = parent / f"assistant-sandbox-{uuid.uuid4().hex[:16]}"
            if self._watcher is not None:
                self._watcher.remove(root)
            try:
                root.mkdir(mode=0o700)
            except FileExistsError:  # 64 random bits: unheard of, but that one is not ours
                if self._watcher is not None:
                    self._watcher.keep(root)
                continue
            return root

    def _release_watcher(self) -> None:
        if self._watcher is not None:
            watcher, self._watcher = self._watcher, None
            watcher.release()

    @property
    def server(self) -> Any:
        """The embedded server this sandbox started (None for a server given by URL)."""
        return self._server

    @property
    def template(self) -> str:
        if self._template is None:
            name = f"tmpl_{os.getpid()}"
            migrate(create_database(self.admin_url, name))
            self._template = name
        return self._template

    def new_database(self) -> tuple[str, str]:
        """A fresh migrated database: (name, conninfo)."""
        name = f"sb_{os.getpid()}_{next(self._counter)}"
        url = create_database(self.admin_url, name, template=self.template)
        self._databases.append(name)
        return name, url

    def settings(self, **overrides: Any) -> Settings:
        name, url = self.new_database()
        data_dir = self.root / "data" / name
        values: dict[str, Any] = {
            "DATA_DIR": data_dir,
            "DATABASE_URL": url,
            "OPENAI_API_KEY": None,
            "BUCKET_NAME": None,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    def fresh(self, **overrides: Any) -> Services:
        services = build_services(self.settings(**overrides))
        self._services.append(services)
        return services

    def close(self) -> None:
        """Close services, drop databases, stop the server and remove the folder: each
        step even when an earlier one fails (an interrupted run's services may not close
        cleanly; its server and folder must still go)."""
        try:
            for services in self._services:
                try:
                    services.close()
                except Exception:
                    log.warning("a sandbox's services did not close cleanly", exc_info=True)
            for name in self._databases:
                with contextlib.suppress(psycopg.Error):
                    drop_database(self.admin_url, name)
        finally:
            self._services, self._databases = [], []
            try:
                shutil.rmtree(self.root / "data", ignore_errors=True)
                if self._server is not None:
                    server, self._server = self._server, None
                    server.cleanup()
            finally:
                if self._own_root:
                    shutil.rmtree(self.root, ignore_errors=True)
                    atexit.unregister(self._remove_root)
            # Reached only when the server stopped: otherwise the watcher stays on the
            # lookout, and stops it when this process ends.
            self._release_watcher()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
