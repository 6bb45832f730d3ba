"""Property-based fuzzing of the web chat's API over real HTTP (schemathesis from an OpenAPI
description of the customer-facing routes, valid and invalid inputs): no answer is a 5xx, with
a session cookie and without one. The reply stream (/api/events) is left out: it stays open."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from ..apifuzz import fuzz  # noqa: E402

EXAMPLES = 60
TEXT = {"type": "string"}
API = {
    "openapi": "3.0.3",
    "info": {"title": "alpha01 web chat", "version": "1"},
    "paths": {
        "/": {"get": {"parameters": [
            {"name": "t", "in": "query", "schema": TEXT},
            {"name": "bind", "in": "query", "schema": TEXT}],
            "responses": {"200": {"description": "the chat page"}}}},
        "/static/{name}": {"get": {"parameters": [
            {"name": "name", "in": "path", "required": True, "schema": TEXT}],
            "responses": {"200": {"description": "a static file"}}}},
        "/api/history": {"get": {"responses": {"200": {"description": "the transcript"}}}},
        "/api/messages": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["id", "text"],
                "properties": {"id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                               "text": {"type": "string", "maxLength": 500}}}}}},
            "responses": {"200": {"description": "accepted"}}}},
    },
}


def test_no_input_from_the_schema_gets_a_server_error(make_web, capsys):
    rig = make_web(web={"session_per_min": 100_000, "address_per_min": 100_000,
                        "new_sessions_per_min": 100_000})
    with rig.client() as c:
        assert c.get("/").status_code == 200
        cookie = c.cookies.get("a01chat")
    total = 0
    for cookies in ({"a01chat": cookie}, {}):
        counts = fuzz(schemathesis.openapi.from_dict(API), rig.url, examples=EXAMPLES,
                      call_kwargs=lambda case, cookies=cookies: {"cookies": cookies})
        total += sum(counts.values())
    with capsys.disabled():
        print(f"\nweb chat fuzz: {total} cases over {len(counts)} operations, "
              "0 server errors")
    assert total >= 2 * 4 * 10, total
