"""What uvicorn serves (`create_asgi`): GET /q/… answered up front by the scan fast path, the
rest by the FastAPI app, both with the security headers, each header once."""

from __future__ import annotations


def test_scans_up_front_and_the_rest_through_the_app_with_each_header_once(service):
    from fastapi.testclient import TestClient

    from sync_server.api import HEADERS, create_asgi

    with TestClient(create_asgi(service), raise_server_exceptions=False) as client:
        scan = client.get("/q/notatoken")
        health = client.get("/health")
        post = client.post("/q/notatoken")  # not the fast path's: FastAPI's own answer
    assert scan.status_code == 404 and health.status_code == 200
    assert post.status_code == 405
    for r in (scan, health, post):
        for name in HEADERS:  # a page may set its own (the scan page's CSP), never two
            assert len(r.headers.get_list(name)) == 1, (r.url, name)
    for name, value in HEADERS.items():
        assert health.headers[name] == value
