"""The local stack serves the published contract (issue 14, item 4): ``/_local/openapi.json`` is
docs/openapi.json and ``/_local/docs`` lists every operation of it, while the apps deployed as
Lambda functions serve no schema or docs routes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from prakerja_local.local_api import LocalApi

REPO = Path(__file__).resolve().parents[2]
DOC = json.loads((REPO / "docs" / "openapi.json").read_text(encoding="utf-8"))


def get(path: str):
    return LocalApi(stack=None)(Request(EnvironBuilder(path=path, method="GET").get_environ()))  # type: ignore[arg-type]


def test_the_local_stack_serves_the_committed_openapi_document():
    response = get("/_local/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.get_data()) == DOC


def test_the_local_docs_page_lists_every_operation_without_anything_from_outside():
    response = get("/_local/docs")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/html"
    for path, item in DOC["paths"].items():
        for method in item:
            assert f"<td><code>{method.upper()}</code></td><td><code>{path}</code></td>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert 'href="/_local/openapi.json"' in page


PROBE = """
import json, sys
sys.path.insert(0, "scripts")
import openapi as script
from prakerja_local.template import Template

template = Template.load(script.ROOT / "template.yaml")
functions = template.functions()
environments = script._placeholder_environment(template)
base = {"AWS_REGION": script.REGION, "AWS_DEFAULT_REGION": script.REGION, "AWS_ACCESS_KEY_ID": "AKIATEST",
        "AWS_SECRET_ACCESS_KEY": "test", "POWERTOOLS_METRICS_NAMESPACE": "prakerja"}
out = {}
for function_id in dict.fromkeys(r.function_id for r in template.routes()):
    fn = functions[function_id]
    app = script._import_app(function_id, (script.ROOT / fn.code_uri).resolve(), fn.handler.rpartition(".")[0],
                             {**base, **environments[function_id]})
    out[function_id] = {"urls": [app.openapi_url, app.docs_url, app.redoc_url],
                        "paths": sorted({getattr(r, "path", "") for r in app.routes})}
print(json.dumps(out))
"""


def test_every_deployed_http_app_serves_no_schema_and_no_docs():
    """Each HTTP function's module imported as the Lambda runtime would (scripts/openapi.py's
    loader, placeholder resource names, no AWS call; in a process of its own): its FastAPI app
    has no schema, docs or redoc route, so only the local stack publishes the contract."""
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO / 'local'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    apps = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(apps) >= 6 and "RegisterFunction" in apps
    for function_id, app in apps.items():
        assert app["urls"] == [None, None, None], function_id
        assert not set(app["paths"]) & {"/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"}, function_id
        assert not any(path.startswith("/_local") for path in app["paths"]), function_id
