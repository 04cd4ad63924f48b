"""``/_local/openapi.json`` and ``/_local/docs``: the published contract (docs/openapi.json,
written by scripts/openapi.py) as the local stack serves it. LOCAL ONLY: the deployed API serves
no schema or docs routes (``prakerja.api.app.create_app``: ``openapi_url=None``).

The docs page is static HTML rendered here from the JSON (no JavaScript, no CDN: the machine may
have no internet): per operation its method, path, summary, whether it needs the bearer token,
its request body schema and its response statuses with their schemas.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from prakerja_local.template import REPO_ROOT

OPENAPI_JSON = REPO_ROOT / "docs" / "openapi.json"
METHODS = ("get", "put", "post", "delete", "patch")


def load(path: Path = OPENAPI_JSON) -> dict[str, Any]:
    """The committed OpenAPI document. Raises OSError / ValueError when missing or not JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def _schema_name(content: dict[str, Any] | None) -> str:
    schema = ((content or {}).get("application/json") or {}).get("schema") or {}
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else ("-" if not schema else json.dumps(schema))


def render(doc: dict[str, Any]) -> str:
    """The docs page (HTML) of ``doc``: one table row per operation, then every component schema."""
    rows = []
    for path, item in doc.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            body = _schema_name((op.get("requestBody") or {}).get("content"))
            responses = ", ".join(f"{status} {_schema_name(r.get('content'))}"
                                  for status, r in op.get("responses", {}).items())
            rows.append(f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
                        f"<td>{escape(op.get('summary', ''))}</td><td>{'bearer' if op.get('security') else ''}</td>"
                        f"<td>{escape(body)}</td><td>{escape(responses)}</td></tr>")
    schemas = "".join(f'<h3 id="{escape(name)}">{escape(name)}</h3><pre>{escape(json.dumps(s, indent=2))}</pre>'
                      for name, s in doc.get("components", {}).get("schemas", {}).items())
    info = doc.get("info", {})
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(info.get('title', 'API'))} (local)</title>"
            "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}</style></head><body>"
            f"<h1>{escape(info.get('title', 'API'))}</h1><p>{escape(info.get('description', ''))}</p>"
            '<p>Machine-readable: <a href="/_local/openapi.json">/_local/openapi.json</a> (docs/openapi.json)</p>'
            "<table><tr><th>method</th><th>path</th><th>summary</th><th>auth</th><th>body</th>"
            f"<th>responses</th></tr>{''.join(rows)}</table><h2>Schemas</h2>{schemas}</body></html>")
