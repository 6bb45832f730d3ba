"""Fixtures: a service on a temp database with a settable clock, the API in-process, and a
real uvicorn server on a free loopback port for the tests that need real HTTP.

Every test that takes `new_db` (or `service`, `api`) runs twice: on SQLite and on a real
PostgreSQL that this session starts (tests/pgserver.py) and stops. If PostgreSQL cannot be
started the PostgreSQL half FAILS; it is never skipped."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the checkout may not be pip-installed
    sys.path.insert(0, str(ROOT))

from sync_server.service import ServerConfig, SyncService  # noqa: E402

from .sync_helpers import Clock, LiveServer  # noqa: E402


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def postgres():
    from tests.pgserver import PgServer

    server = PgServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def new_db(backend, tmp_path, request):
    """`new_db(name)`: a fresh empty database of this run's backend (a path or a URL)."""
    def make(name: str = "sync"):
        if backend == "sqlite":
            return tmp_path / f"{name}.db"
        return request.getfixturevalue("postgres").fresh_url()
    return make


@pytest.fixture
def service(new_db, clock) -> SyncService:
    # Rate limits out of the way here; test_api.py pins them down with its own app.
    unlimited = ServerConfig(scan_ip_per_min=1e9, scan_token_per_min=1e9, enroll_ip_per_min=1e9)
    svc = SyncService(new_db(), unlimited, clock=clock)
    svc.admin_token = svc.init_admin()
    yield svc
    svc.close()


@pytest.fixture
def api(service):
    from fastapi.testclient import TestClient

    from sync_server.api import create_app

    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        client.admin = {"Authorization": f"Bearer {service.admin_token}"}
        yield client


@pytest.fixture
def live_server(tmp_path):
    started: list[LiveServer] = []

    def start(db: Path, *extra: str) -> LiveServer:
        server = LiveServer(db, *extra)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
