"""The web app under test, reached as a browser on this machine reaches it."""

from __future__ import annotations

from fastapi.testclient import TestClient

from assistant.factory import Services
from webhook import create_app

LOCAL = "http://127.0.0.1:8000"


def app_client(
    services: Services,
    *,
    ui: bool = False,
    base_url: str = LOCAL,
    peer: str = "192.0.2.10",
) -> TestClient:
    """A client for the app (no workers). Its Host is 127.0.0.1 (TestClient's default
    "testserver" is not a host the app serves); its address, `peer`, is not a trusted
    proxy unless a test says so (e.g. peer="127.0.0.1", what a local tunnel is)."""
    return TestClient(
        create_app(services, workers=0, mount_ui=ui), base_url=base_url, client=(peer, 50000)
    )
