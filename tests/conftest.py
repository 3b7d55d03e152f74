"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.factory import Services
from assistant.sandbox import Sandbox

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as box:
        yield box


@pytest.fixture
def services(sandbox: Sandbox) -> Iterator[Services]:
    svc = sandbox.fresh()
    yield svc
    svc.close()
