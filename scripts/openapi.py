"""Write docs/openapi.json: the one published contract of every HTTP route.

Each HTTP function of ``template.yaml`` has its own FastAPI app (``prakerja.api.app.create_app``,
deployed with ``openapi_url=None``: the API serves no schema or docs routes). This script imports
each function's handler module the way the Lambda runtime would (its directory first on
``sys.path``, its template environment with made-up resource names: no AWS call is made at
import), asks each app for its generated OpenAPI document and merges them into one OpenAPI 3.1
document, adding what FastAPI cannot see:

- the bearer security scheme, on the routes whose handlers depend on ``prakerja.api.auth.bearer``;
- the error shape (``Error``: ``{code, message, fields: [{field, code, message}]}``, ``code`` one
  of the catalogue's codes, ``prakerja.api.i18n.MESSAGES``, listed in docs/errors.md) on every
  error status a route can answer: 400 ``INVALID_JSON`` (routes with a body), 401 (signed-in
  routes and the credential routes), 403, 404, 409, 410, 422, 429 and 503 (with ``Retry-After``);
  FastAPI's own ``HTTPValidationError`` (``{"detail": ...}``), which the API never sends, is
  dropped;
- nothing for the 2xx bodies: each route declares its response model (``prakerja.api.responses``),
  FastAPI publishes its schema, and a route with a 2xx body but no model stops the script (a 204
  route has no body and no model).

``python scripts/openapi.py`` rewrites the file; ``--check`` exits 1 when it is stale (a test
runs the check: the published contract never drifts from the code). Run it with the app's
virtualenv and ``PYTHONPATH=src:local``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "openapi.json"
REGION = "ap-southeast-3"

for _path in (ROOT / "src", ROOT / "local"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

#: Routes that check credentials without a bearer token (401 INVALID_CREDENTIALS, REFRESH_INVALID,
#: TOKEN_INVALID for a reset link of an erased account).
CREDENTIAL_ROUTES = {"POST /v1/sessions", "POST /v1/sessions/refresh", "POST /v1/password-resets/{token}"}
#: Request models whose ``email`` must be an address (email-validator, ``domain/accounts.py``);
#: sign-in takes any text.
EMAIL_FIELDS = ("SignUp", "ResetRequest", "EmailChange")
#: Routes without input and without a token: only capacity errors.
PUBLIC_WITHOUT_INPUT = {"GET /v1/batches"}

STATUS_TEXT = {
    400: "The body is not JSON (`INVALID_JSON`).",
    401: "No token, a bad or expired token, an ended session, or wrong credentials.",
    403: "Signed in, but the step is not open to the applicant (for example `EMAIL_NOT_VERIFIED`, "
         "`CONSENT_WITHDRAWN`, `NOT_ELIGIBLE`).",
    404: "The thing asked for does not exist (for example `TOKEN_UNKNOWN`, `BATCH_NOT_FOUND`).",
    409: "The request conflicts with stored state (for example `IDEMPOTENCY_KEY_REUSED`, `ALREADY_JOINED`).",
    410: "A single-use link was used or expired, or the test's time is over.",
    422: "The input breaks a rule (`VALIDATION_FAILED` with every field in `fields`, or a rule's own code).",
    429: "A per-client or per-account limit was hit; `Retry-After` says when to try again.",
    503: "A capacity problem (`SERVICE_BUSY`) or sign-up paused (`REGISTRATION_PAUSED`); retry after "
         "`Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again.",
                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def _placeholder_environment(template: Any) -> dict[str, dict[str, str]]:
    """Each function's template environment with made-up physical names (nothing is created)."""
    from prakerja_local.provision import LOCAL_PARAMETERS, Resources, resolved_environments

    class Attributes(dict):
        def __init__(self, rid: str, rtype: str) -> None:
            name = f"prakerja-openapi-{rid}"
            url = f"https://sqs.{REGION}.amazonaws.com/123456789012/{name}"
            super().__init__(Ref=url if rtype == "AWS::SQS::Queue" else name,
                             Arn=f"arn:aws:service:{REGION}:123456789012:{name}", QueueName=name, QueueUrl=url)
            self.name = name

        def __missing__(self, attribute: str) -> str:
            return f"{self.name}-{attribute}"

    defaults = template.parameter_defaults()
    physical = {rid: Attributes(rid, res.get("Type", "")) for rid, res in template.resources.items()}
    parameters = {**defaults, **{k: v for k, v in LOCAL_PARAMETERS.items() if not defaults.get(k)}}
    return resolved_environments(template, Resources(physical=physical, parameters=parameters,
                                                     stack_name="prakerja-openapi"))


def _import_app(function_id: str, code_dir: Path, module: str, env: dict[str, str]) -> Any:
    """The FastAPI app of one function's handler module (imported under a unique name)."""
    path = code_dir / (module.replace(".", "/") + ".py")
    spec = importlib.util.spec_from_file_location(f"prakerja_openapi_{function_id}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    loaded = importlib.util.module_from_spec(spec)
    before = set(sys.modules)
    saved = dict(os.environ)
    os.environ.update(env)
    sys.path.insert(0, str(code_dir))
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(code_dir))
        os.environ.clear()
        os.environ.update(saved)
        for name in set(sys.modules) - before:  # siblings of the same name in other functions
            if (getattr(sys.modules[name], "__file__", None) or "").startswith(str(code_dir) + os.sep):
                sys.modules.pop(name, None)
    return loaded.app


def _uses_bearer(dependant: Any) -> bool:
    call = getattr(dependant, "call", None)
    if call is not None and getattr(call, "__qualname__", "") == "bearer.<locals>.dependency":
        return True
    return any(_uses_bearer(d) for d in getattr(dependant, "dependencies", []))


def _route_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": STATUS_TEXT[status] + " Codes: docs/errors.md.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER
    return response


def _error_statuses(key: str, operation: dict[str, Any], secured: bool) -> list[int]:
    if key in PUBLIC_WITHOUT_INPUT:
        return [429, 503]
    statuses = {403, 404, 409, 410, 422, 429, 503}
    if "requestBody" in operation:
        statuses.add(400)
    if secured or key in CREDENTIAL_ROUTES:
        statuses.add(401)
    return sorted(statuses)


def _error_schemas() -> dict[str, dict[str, Any]]:
    from prakerja.api.i18n import MESSAGES

    codes = sorted(MESSAGES)
    return {
        "Error": {
            "type": "object",
            "description": "Every error reply of the API (docs/errors.md). `message` is Indonesian, English "
                           "with `Accept-Language: en`. Some codes add keys of their own.",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "enum": codes},
                "message": {"type": "string"},
                "fields": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
        "FieldError": {
            "type": "object",
            "required": ["field", "code", "message"],
            "properties": {"field": {"type": "string"}, "code": {"type": "string", "enum": codes},
                           "message": {"type": "string"}},
        },
    }


def _merge_schemas(into: dict[str, Any], schemas: dict[str, Any], title: str) -> None:
    for name, schema in schemas.items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        if name in into and into[name] != schema:
            raise SystemExit(f"{title}: component {name} differs from another app's; rename the model")
        into[name] = schema


def http_apps() -> tuple[dict[str, str], dict[str, Any]]:
    """``(routes, apps)``: every HTTP route of ``template.yaml`` (route key -> function id) and
    the FastAPI app of each function that has one (function id -> app, imported as the Lambda
    runtime would; no AWS call)."""
    from prakerja_local.template import Template

    template = Template.load(ROOT / "template.yaml")
    functions = template.functions()
    environments = _placeholder_environment(template)
    base_env = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "AKIAOPENAPI000000000",
                "AWS_SECRET_ACCESS_KEY": "openapi-dummy", "POWERTOOLS_METRICS_NAMESPACE": "prakerja"}
    routes = {_route_key(r.method, r.path): r.function_id for r in template.routes()}
    apps: dict[str, Any] = {}
    for function_id in dict.fromkeys(routes.values()):
        fn = functions[function_id]
        module, _, _attribute = fn.handler.rpartition(".")
        apps[function_id] = _import_app(function_id, (ROOT / fn.code_uri).resolve(), module,
                                        {**base_env, **environments[function_id]})
    return routes, apps


def build() -> dict[str, Any]:
    """The merged OpenAPI document."""
    routes, apps = http_apps()
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for function_id, app in apps.items():
        generated = copy.deepcopy(app.openapi())
        _merge_schemas(schemas, generated.get("components", {}).get("schemas", {}), app.title)
        secured = {_route_key(m, r.path) for r in app.routes if hasattr(r, "dependant")
                   for m in r.methods if _uses_bearer(r.dependant)}
        for path, item in generated.get("paths", {}).items():
            for method, operation in item.items():
                key = _route_key(method, path)
                if routes.get(key) != function_id:
                    raise SystemExit(f"{app.title}: {key} is not a route of {function_id} in template.yaml")
                _complete(key, operation, key in secured, function_id)
                paths.setdefault(path, {})[method] = operation
    documented = {_route_key(m, p) for p, item in paths.items() for m in item}
    if documented != set(routes):
        raise SystemExit(f"template routes without an app route: {sorted(set(routes) - documented)}")
    clash = set(schemas) & set(_error_schemas())
    if clash:
        raise SystemExit(f"schema names taken by the error shape: {sorted(clash)}")
    for model in EMAIL_FIELDS:  # the server refuses anything else (422 EMAIL_INVALID): generators should know
        schemas[model]["properties"]["email"]["format"] = "email"
    schemas.update(_error_schemas())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "prakerja registration API",
            "version": "1",
            "description": "Every HTTP route of the Kartu Prakerja registration backend (one Lambda function per "
                           "step behind one API Gateway HTTP API). Generated from the FastAPI apps by "
                           "scripts/openapi.py; the deployed API serves no schema. Error codes: docs/errors.md.",
        },
        "paths": {path: paths[path] for path in sorted(paths)},
        "components": {
            "schemas": {name: schemas[name] for name in sorted(schemas)},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "The access token of POST /v1/sessions (15 minutes)."}},
        },
    }


def _complete(key: str, operation: dict[str, Any], secured: bool, function_id: str) -> None:
    """Add security and the error responses to one generated operation (its 2xx schema is the
    route's response model: checked here, not written)."""
    operation["tags"] = [function_id]
    if secured:
        operation["security"] = [{"bearer": []}]
    responses = operation.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's HTTPValidationError: replaced by the Error shape
    success = next(s for s in responses if s.startswith("2"))
    if success == "204":
        if "content" in responses[success]:
            raise SystemExit(f"{key}: a 204 route has no body (response_model=None)")
    else:
        content = responses[success].get("content", {})
        if "$ref" not in content.get("application/json", {}).get("schema", {}):
            raise SystemExit(f"{key}: no response model (prakerja.api.responses)")
        if key == "GET /v1/email-verifications/{token}":
            content["text/html"] = {"schema": {"type": "string"}}
    for status in _error_statuses(key, operation, secured):
        responses[str(status)] = _error_response(status)
        if key == "GET /v1/email-verifications/{token}" and status in (404, 410):  # the page asked for as HTML
            responses[str(status)]["content"]["text/html"] = {"schema": {"type": "string"}}
    operation["responses"] = {s: responses[s] for s in sorted(responses)}


def render() -> str:
    """The whole document as written to docs/openapi.json."""
    return json.dumps(build(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if DOC.exists() and DOC.read_text(encoding="utf-8") == text:
            return 0
        print("docs/openapi.json is stale: run scripts/openapi.py", file=sys.stderr)
        return 1
    DOC.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
