"""The API reference at /docs when `docs` is configured: one self-contained HTML page built
from the OpenAPI document on the server, with no script and no third-party asset (the stock
Swagger UI and ReDoc pages load theirs from a CDN). /openapi.json serves the document itself.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse


def render(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    rows = []
    for path, ops in sorted(schema.get("paths", {}).items()):
        for method, op in ops.items():
            params = ", ".join(escape(p.get("name", "")) for p in op.get("parameters", []))
            rows.append(
                f"<tr><td><code>{escape(method.upper())}</code></td><td><code>{escape(path)}"
                f"</code></td><td>{escape(op.get('summary', ''))}<br><small>"
                f"{escape(op.get('description', '') or '')}</small></td><td>{params}</td></tr>")
    return (
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">"
        f"<title>{escape(info.get('title', ''))}</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{border-top:1px solid #ccc;"
        "padding:4px 8px;vertical-align:top}</style>"
        f"<h1>{escape(info.get('title', ''))} {escape(info.get('version', ''))}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        "<p><a href=\"/openapi.json\">openapi.json</a></p>"
        "<table><tr><th>方法</th><th>路径</th><th>说明</th><th>参数</th></tr>"
        + "".join(rows) + "</table></html>")


def mount(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(render(app.openapi()))
