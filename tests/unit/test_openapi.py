"""docs/openapi.json, the published contract: generated from the apps, complete, never served."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prakerja.api.app import create_app
from prakerja.api.i18n import MESSAGES
from prakerja_local.template import Template

REPO = Path(__file__).resolve().parents[2]
DOC = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))
OPERATIONS = [(method.upper(), path, op) for path, item in DOC["paths"].items() for method, op in item.items()]
ROUTES = {f"{r.method} {r.path}" for r in Template.load(REPO / "template.yaml").routes()}


def _ref(schema: dict) -> dict:
    name = schema["$ref"].rsplit("/", 1)[-1]
    return DOC["components"]["schemas"][name]


def test_docs_openapi_json_is_generated_from_the_apps():
    result = subprocess.run([sys.executable, "scripts/openapi.py", "--check"], cwd=REPO, capture_output=True,
                            text=True, env={"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'local'}", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, f"run: python scripts/openapi.py\n{result.stderr[-2000:]}"


def test_every_http_route_of_the_template_is_documented_and_nothing_else():
    assert {f"{m} {p}" for m, p, _ in OPERATIONS} == ROUTES


def test_the_deployed_apps_serve_no_schema_or_docs():
    app = create_app("probe")
    assert (app.openapi_url, app.docs_url, app.redoc_url) == (None, None, None)


def test_the_error_shape_is_a_component_with_every_catalogue_code():
    error = DOC["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message", "fields"}
    assert set(error["properties"]["code"]["enum"]) == set(MESSAGES)
    field_error = DOC["components"]["schemas"]["FieldError"]
    assert set(field_error["required"]) == {"field", "code", "message"}


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_every_operation_describes_its_success_and_its_errors(method, path, op):
    responses = op["responses"]
    assert "HTTPValidationError" not in json.dumps(op)  # FastAPI's {"detail"} is never sent
    success = [s for s in responses if s.startswith("2")]
    assert len(success) == 1
    body = responses[success[0]].get("content", {}).get("application/json")
    if success[0] == "204":
        assert body is None
    else:
        assert _ref(body["schema"])["required"]  # a described object, not "any object"
    errors = {s: r for s, r in responses.items() if s[0] in "45"}
    assert {"429", "503"} <= set(errors)
    if op.get("parameters") or op.get("requestBody"):
        assert "422" in errors
    if op.get("requestBody"):
        assert "400" in errors
    for status, response in errors.items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, status
    assert "Retry-After" in errors["429"]["headers"] and "Retry-After" in errors["503"]["headers"]


def test_signed_in_routes_carry_the_bearer_scheme_and_answer_401():
    assert DOC["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
        "description": "The access token of POST /v1/sessions (15 minutes)."}
    secured = {f"{m} {p}" for m, p, op in OPERATIONS if op.get("security") == [{"bearer": []}]}
    assert {"GET /v1/me", "PUT /v1/me/biodata", "POST /v1/me/assessment", "DELETE /v1/sessions",
            "POST /v1/batches/{batch_id}/participants", "POST /v1/me/documents/ktp"} <= secured
    assert {"POST /v1/accounts", "POST /v1/sessions", "GET /v1/batches"}.isdisjoint(secured)
    assert all("401" in op["responses"] for m, p, op in OPERATIONS if f"{m} {p}" in secured)
