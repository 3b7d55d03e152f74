"""The web app under test, reached as a browser on this machine reaches it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI
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


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` on a free local port in a thread of this process (so a test can reach the
    same `Services`: drain its worker, wire its media fetcher); yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise AssertionError("the app did not start")
        threading.Event().wait(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
