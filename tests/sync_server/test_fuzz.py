"""Property-based fuzzing of the sync server from its own OpenAPI document (schemathesis), over
real HTTP against `python -m sync_server serve --docs` on loopback: whatever the generated
bodies, paths and queries, no answer is a 5xx. Bounded: a fixed number of examples per
operation, so the run stays within seconds."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from sync_server.service import SyncService  # noqa: E402

from ..apifuzz import fuzz  # noqa: E402
from .sync_helpers import LiveServer, enroll_device  # noqa: E402

EXAMPLES = 60
DEVICE_ROUTES = ("/api/v1/heartbeat", "/api/v1/me", "/api/v1/bindings/")


def test_no_input_from_the_schema_gets_a_server_error(new_db, backend, capsys):
    db = new_db()
    service = SyncService(db)
    admin = {"Authorization": f"Bearer {service.init_admin()}"}
    store = service.add_store("一号店", "电话 010-1234", daily_cap=100)
    device = enroll_device(service, store["id"])["auth"]
    service.mint(store["id"], "门口", None, "admin")
    service.close()
    server = LiveServer(db, "--docs", "--scan-ip-per-min", "1e9", "--scan-token-per-min", "1e9",
                        "--enroll-ip-per-min", "1e9")
    try:
        schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
        counts = fuzz(schema, server.url, examples=EXAMPLES, call_kwargs=lambda case: {
            "headers": device if case.path.startswith(DEVICE_ROUTES) else admin})
    finally:
        server.stop()
    with capsys.disabled():
        print(f"\nsync server fuzz ({backend}): {sum(counts.values())} cases over {len(counts)} "
              "operations, 0 server errors")
    assert len(counts) >= 12 and sum(counts.values()) >= 12 * 10, counts
