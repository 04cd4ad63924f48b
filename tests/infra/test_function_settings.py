"""Each function's settings model against template.yaml (issue 14, item 3).

A function's handler module loads one model of ``prakerja.settings`` (``build(Model)`` or
``Model.load()``). For every function, with the Globals merged into its ``Environment``:

- every variable the model requires is set, and nothing else is: a variable the model does not
  read (besides the ``POWERTOOLS_*`` ones Powertools reads) fails;
- every resource a variable names (``!Ref`` / ``!GetAtt`` of a table, queue, bucket, key, secret,
  parameter) is one the function's policies grant something on (the grants as
  ``test_iam_policies.grants_of`` derives them), so no function can name a resource it may not
  use;
- Globals hold only what every function reads.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest

from prakerja.settings import FUNCTION_SETTINGS, FunctionSettings
from tests.infra.test_iam_policies import FUNCTIONS, grants_of
from tests.infra.test_template_invariants import GLOBAL_FN, REPO, RESOURCES, props

#: variables read by libraries, not by the settings model
LIBRARY_VARIABLES = re.compile(r"^POWERTOOLS_[A-Z_]+$")


def environment(function_id: str) -> dict[str, Any]:
    """The function's variables after the Globals merge (its own win), as written in the template."""
    glob = (GLOBAL_FN.get("Environment") or {}).get("Variables") or {}
    own = (props(FUNCTIONS[function_id]).get("Environment") or {}).get("Variables") or {}
    return {**glob, **own}


def model_of(function_id: str) -> str:
    """The name of the settings model the handler module (``CodeUri`` + ``Handler``) loads."""
    p = props(FUNCTIONS[function_id])
    module = p["Handler"].rpartition(".")[0].replace(".", "/") + ".py"
    tree = ast.parse((REPO / p["CodeUri"] / module).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id == "build":
            found |= {a.id for a in node.args if isinstance(a, ast.Name)}
        if isinstance(node.func, ast.Attribute) and node.func.attr == "load" and isinstance(node.func.value, ast.Name):
            found.add(node.func.value.id)
    assert len(found) == 1, f"{function_id}: its handler loads {sorted(found) or 'no'} settings models, not one"
    return found.pop()


def resource_of(value: Any) -> str | None:
    """The logical id of the resource a variable's value names (``!Ref X``, ``!GetAtt X.Attr``),
    or None for a literal, a parameter or a ``!Sub``."""
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
    elif isinstance(value, dict) and "Fn::GetAtt" in value:
        name = value["Fn::GetAtt"][0]
    else:
        return None
    return name if name in RESOURCES else None


def granted_resources(function_id: str) -> set[str]:
    """Logical ids of the resources the function is granted any action on."""
    out = set()
    for grant in grants_of(function_id):
        out |= {part for part in re.split(r"[:/]", grant.resource) if part in RESOURCES}
    return out


def test_every_function_has_a_settings_model() -> None:
    assert set(FUNCTION_SETTINGS) == set(FUNCTIONS)


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_the_handler_loads_the_function_s_model(function_id: str) -> None:
    assert model_of(function_id) == FUNCTION_SETTINGS[function_id].__name__


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_the_environment_has_what_the_model_requires_and_nothing_it_does_not_read(function_id: str) -> None:
    # Given the function's model and its environment in the template
    model: type[FunctionSettings] = FUNCTION_SETTINGS[function_id]
    env = set(environment(function_id))
    # Then every required variable is set (else the cold start fails on AWS)
    missing = sorted(model.required_variables() - env)
    assert not missing, f"{function_id} requires {missing} but template.yaml does not set them"
    # and nothing is set that the model would ignore (a misspelt or stale variable)
    unread = sorted(v for v in env - model.variables() if not LIBRARY_VARIABLES.match(v))
    assert not unread, f"{function_id} is given {unread} but {model.__name__} does not read them"


@pytest.mark.parametrize("function_id", sorted(FUNCTIONS))
def test_every_resource_a_function_names_is_one_its_policies_grant(function_id: str) -> None:
    named = {var: resource_of(value) for var, value in environment(function_id).items()}
    granted = granted_resources(function_id)
    ungranted = sorted(f"{var} ({rid})" for var, rid in named.items() if rid and rid not in granted)
    assert not ungranted, f"{function_id} names resources its policies grant nothing on: {ungranted}"


def test_globals_hold_only_what_every_function_reads() -> None:
    glob = set((GLOBAL_FN.get("Environment") or {}).get("Variables") or {})
    for function_id, model in FUNCTION_SETTINGS.items():
        unread = sorted(v for v in glob - model.variables() if not LIBRARY_VARIABLES.match(v))
        assert not unread, f"Globals give {function_id} {unread}, which it does not read: move them to the functions"


def test_the_derivations_see_the_template() -> None:
    # the checks above prove something only if they read real names and grants
    assert resource_of(environment("NikWorkerFunction")["PII_KEY_ID"]) == "PiiKey"
    assert resource_of(environment("RegisterFunction")["PUBLIC_BASE_URL"]) is None  # a parameter
    assert {"ApplicantsTable", "NikQueue", "NikDLQ", "PiiKey"} <= granted_resources("NikWorkerFunction")
    assert "BatchesTable" not in granted_resources("DrawResultsFunction")
