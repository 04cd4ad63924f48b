"""Every route of every HTTP function declares its 2xx body as a model of ``prakerja.api.responses``
(issue 14 item 4): a new route without one fails here, and ``scripts/openapi.py`` refuses it too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from prakerja.api import responses
from prakerja_local.template import Template

REPO = Path(__file__).resolve().parents[2]

# The apps are imported in a process of their own, as scripts/openapi.py imports them (each
# function's directory on sys.path, its template environment): no AWS call, nothing left behind.
_LIST_ROUTES = """
import json, sys
sys.path.insert(0, "scripts")
import openapi
from fastapi.routing import APIRoute
_, apps = openapi.http_apps()
rows = []
for function_id, app in apps.items():
    for route in app.routes:
        if isinstance(route, APIRoute):
            model = route.response_model
            rows.append({"function": function_id, "methods": sorted(route.methods), "path": route.path,
                         "status": route.status_code, "model": getattr(model, "__name__", None) if model else None,
                         "module": getattr(model, "__module__", None) if model else None})
print(json.dumps(rows))
"""


def _problems(rows: list[dict]) -> list[str]:
    """What is wrong with each route's declared response (``[]``: every route is described)."""
    out = []
    for row in rows:
        where = f"{row['function']} {'/'.join(row['methods'])} {row['path']}"
        if row["status"] == 204:  # no body: FastAPI itself refuses a model on a 204 route
            continue
        if row["model"] is None:
            out.append(f"{where}: no response model (add one to prakerja.api.responses)")
        elif row["module"] != responses.__name__ or not hasattr(responses, row["model"]):
            out.append(f"{where}: {row['model']} is not a model of prakerja.api.responses")
    return out


def _rows(app: FastAPI, function_id: str) -> list[dict]:
    return [{"function": function_id, "methods": sorted(r.methods), "path": r.path, "status": r.status_code,
             "model": getattr(r.response_model, "__name__", None) if r.response_model else None,
             "module": getattr(r.response_model, "__module__", None) if r.response_model else None}
            for r in app.routes if isinstance(r, APIRoute)]


def test_every_route_of_every_http_function_declares_a_response_model():
    # Given every HTTP function's app, imported as the runtime imports it
    done = subprocess.run([sys.executable, "-c", _LIST_ROUTES], cwd=REPO, capture_output=True, text=True,
                          env={"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'local'}", "PATH": "/usr/bin:/bin"},
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    # Then every template route is among them, and each declares its body's model (none for 204)
    template = {f"{r.method} {r.path}" for r in Template.load(REPO / "template.yaml").routes()}
    assert template <= {f"{m} {row['path']}" for row in rows for m in row["methods"]}
    assert _problems(rows) == []


def test_a_route_without_a_model_or_with_a_model_from_elsewhere_is_reported():
    # Given an app with a route returning a plain dict, one with a model of its own, a 204 route
    # and a described one
    class Local(BaseModel):
        x: int

    app = FastAPI()
    app.get("/bare")(lambda: {"x": 1})
    app.get("/local", response_model=Local)(lambda: {"x": 1})
    app.delete("/gone", status_code=204)(lambda: None)
    app.post("/fine", response_model=responses.Message)(lambda: {"message": "m"})
    # When checked
    problems = _problems(_rows(app, "probe"))
    # Then the first two are named, the others are not
    assert problems == ["probe GET /bare: no response model (add one to prakerja.api.responses)",
                        "probe GET /local: Local is not a model of prakerja.api.responses"]


def test_every_model_of_the_module_has_a_docstring():
    models = [getattr(responses, name) for name in responses.__all__]
    assert all(m.__doc__ and m.__doc__.strip() for m in models)
    assert {m.__name__ for m in models} == set(responses.__all__)
