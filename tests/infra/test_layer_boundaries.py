"""The layer rules of README "Architecture", checked on the source (AST, no imports run).

* ``services/`` and ``domain/`` import no ``boto3``/``botocore`` (not even lazily) and
  ``services/`` builds no DynamoDB expression (no ``boto3.dynamodb.conditions``, no
  ``ConditionExpression``/``UpdateExpression``/... request keys): data access is in ``adapters/``.
* ``domain/`` imports only itself and the standard library, plus the few pure libraries listed
  in ``DOMAIN_LIBRARIES`` per module (validation models, image decoding, numpy for the draw,
  imported lazily inside the function that needs it).
* ``services/`` holds no table key format (a string such as ``"MEMBER#"``, ``f"NIK#{key}"``,
  ``"PROFILE"``, ``"SENTINEL"``) and no condition expression (``attribute_exists``, ...): the
  stores in ``adapters/`` own their keys and conditions, and services call them by the domain
  operation (issue 14 item 2).
* Nothing below ``api/`` (adapters, domain, services, settings, ...) imports ``prakerja.api``.
* No import cycles (module level, lazy or typing-only) between the modules of ``src/``,
  ``ops/`` and ``local/``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"prakerja": ROOT / "src" / "prakerja", "prakerja_ops": ROOT / "ops" / "prakerja_ops",
            "prakerja_local": ROOT / "local" / "prakerja_local"}

# module -> third-party top-level packages it may import (all pure: no network, no AWS)
DOMAIN_LIBRARIES: dict[str, set[str]] = {
    "prakerja.domain.accounts": {"email_validator"},  # address syntax only (DNS checks off)
    "prakerja.domain.assessment": {"pydantic"},
    "prakerja.domain.biodata": {"pydantic", "pydantic_core"},
    "prakerja.domain.photo": {"PIL", "pillow_heif"},  # decoding bytes in memory
    "prakerja.domain.selection": {"numpy"},  # lazily, in the fast path of draw_ids only
}
LAZY_ONLY = {("prakerja.domain.selection", "numpy")}

DYNAMO_EXPRESSION_KEYS = {"ConditionExpression", "UpdateExpression", "KeyConditionExpression",
                          "FilterExpression", "ProjectionExpression", "ExpressionAttributeNames",
                          "ExpressionAttributeValues"}

def _modules() -> dict[str, Path]:
    out = {}
    for top, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([top, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path, typing_too: bool = False) -> list[tuple[str, bool, int]]:
    """``(imported module, at module level?, line)`` for every import in the file (and in its
    ``if TYPE_CHECKING:`` blocks with ``typing_too``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, bool, int]] = []

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                found.extend((a.name, top, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    mod = ".".join(base + ([child.module] if child.module else []))
                else:
                    mod = child.module or ""
                found.append((mod, top, child.lineno))
                # ``from prakerja.domain import selection`` imports the submodule
                found.extend((f"{mod}.{a.name}", top, child.lineno) for a in child.names
                             if f"{mod}.{a.name}" in MODULES)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                if typing_too:  # they run nothing, but still tie the two modules' designs together
                    visit(child, top)
            else:
                visit(child, top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef |
                                                    ast.Lambda))
    visit(tree, True)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _in(name: str, layer: str) -> bool:
    return name == layer or name.startswith(layer + ".")


def _top(mod: str) -> str:
    return mod.split(".")[0]


def test_the_checker_sees_imports():
    """The walker finds lazy imports and relative ones (else every rule below passes vacuously)."""
    selection = _imports("prakerja.domain.selection", MODULES["prakerja.domain.selection"])
    assert ("numpy", False) in {(m, top) for m, top, _ in selection}
    assert any(_in(m, "prakerja.adapters") for m, _, _ in
               _imports("prakerja.services.batches", MODULES["prakerja.services.batches"]))


def test_services_and_domain_import_no_boto3_or_botocore():
    bad = [f"{name}:{line} imports {mod}" for name, path in MODULES.items()
           if _in(name, "prakerja.services") or _in(name, "prakerja.domain")
           for mod, _, line in _imports(name, path) if _top(mod) in {"boto3", "botocore"}]
    assert not bad, "data access belongs in prakerja.adapters:\n" + "\n".join(bad)


def test_services_build_no_dynamodb_expression():
    bad = []
    for name, path in MODULES.items():
        if not _in(name, "prakerja.services"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            keys = ([k.value for k in node.keys if isinstance(k, ast.Constant)] if isinstance(node, ast.Dict)
                    else [k.arg for k in node.keywords] if isinstance(node, ast.Call) else [])
            bad += [f"{name}:{node.lineno} {k}" for k in keys if k in DYNAMO_EXPRESSION_KEYS]
    assert not bad, "DynamoDB requests are built in prakerja.adapters:\n" + "\n".join(bad)


#: a table key written in code: ``APP#``, ``MEMBER#<batch>``, ``BATCH#...``, and the fixed sort keys
KEY_FORMAT = re.compile(r"^[A-Z][A-Z_]*#|^(PROFILE|BIODATA|ASSESSMENT|SENTINEL|META|TOKEN|FAMILY|PRIORITY)$")
CONDITION_WORDS = re.compile(r"\b(attribute_exists|attribute_not_exists|attribute_type|begins_with|if_not_exists)\(")


def _key_or_condition_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, text)`` of every string constant (docstrings left out) and of the first literal
    part of every f-string that looks like a table key or a condition expression."""
    skipped = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    skipped |= {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            text = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
            if KEY_FORMAT.match(text):
                found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skipped:
            if KEY_FORMAT.match(node.value) or CONDITION_WORDS.search(node.value):
                found.append((node.lineno, node.value))
    return found


def test_services_hold_no_key_format_or_condition():
    bad = [f"{name}:{line} {text!r}" for name, path in MODULES.items() if _in(name, "prakerja.services")
           for line, text in _key_or_condition_strings(ast.parse(path.read_text()))]
    assert not bad, ("keys and conditions belong to the stores in prakerja.adapters (call them by the domain "
                     "operation):\n" + "\n".join(bad))


def test_the_key_and_condition_check_sees_a_planted_violation():
    tree = ast.parse('''
def join(store, batch_id):
    """Writes MEMBER#<batch> (a docstring may say so)."""
    store.put(f"MEMBER#{batch_id}", condition="attribute_not_exists(pk)")
    return store.get("PROFILE"), "#", "a#b", f"{batch_id}#x"
''')
    assert [t for _, t in _key_or_condition_strings(tree)] == ["MEMBER#", "attribute_not_exists(pk)", "PROFILE"]


def test_domain_imports_only_itself_the_standard_library_and_its_listed_libraries():
    bad = []
    for name, path in MODULES.items():
        if not _in(name, "prakerja.domain"):
            continue
        for mod, top, line in _imports(name, path):
            root = _top(mod)
            if _in(mod, "prakerja.domain") or root in sys.stdlib_module_names or root == "__future__":
                continue
            if root not in DOMAIN_LIBRARIES.get(name, set()):
                bad.append(f"{name}:{line} imports {mod}")
            elif top and (name, root) in LAZY_ONLY:
                bad.append(f"{name}:{line} imports {mod} at module level (it must stay lazy)")
    assert not bad, "domain/ is plain Python:\n" + "\n".join(bad)


def test_nothing_below_the_api_imports_it():
    above = ("prakerja.api", "prakerja.handlers")
    bad = [f"{name}:{line} imports {mod}" for name, path in MODULES.items()
           if _in(name, "prakerja") and not any(_in(name, a) for a in above)
           for mod, _, line in _imports(name, path) if _in(mod, "prakerja.api")]
    assert not bad, "only prakerja.api and prakerja.handlers use the HTTP layer:\n" + "\n".join(bad)


def _graph() -> dict[str, list[str]]:
    """Which of our modules each module imports, at module level, inside a function or for
    typing only (each still ties the two modules together)."""
    return {name: sorted({m for m, _, _ in _imports(name, path, typing_too=True) if m in MODULES and m != name})
            for name, path in MODULES.items()}


def _reach(graph: dict[str, list[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for w in graph[todo.pop()]:
            if w not in seen:
                seen.add(w)
                todo.append(w)
    return seen


def _cycles() -> list[set[str]]:
    """The groups (more than one module) of modules that reach each other in the import graph."""
    graph = _graph()
    reach = {v: _reach(graph, v) for v in graph}
    groups = {frozenset({v} | {w for w in reach[v] if v in reach[w]}) for v in graph if v in reach[v]}
    return [set(g) for g in groups if len(g) > 1]


def test_no_import_cycles_between_modules():
    cycles = [sorted(c) for c in _cycles()]
    assert not cycles, f"modules that import each other (move the shared part lower, or use a Protocol): {cycles}"


@pytest.mark.parametrize("rule", ["boto3", "api", "cycle"])
def test_each_rule_fails_on_a_violation(rule, tmp_path):
    """The rules catch a planted violation (so the checks are not vacuous)."""
    src = {"boto3": "import boto3\n", "api": "from prakerja.api import errors\n",
           "cycle": "from prakerja.services import fake_b\n"}[rule]
    path = tmp_path / "fake.py"
    path.write_text(src)
    mods = _imports("prakerja.services.fake", path)
    if rule == "boto3":
        assert _top(mods[0][0]) == "boto3"
    elif rule == "api":
        assert _in(mods[0][0], "prakerja.api")
    else:
        other = tmp_path / "fake_b.py"
        other.write_text("from prakerja.services import fake\n")
        MODULES.update({"prakerja.services.fake": path, "prakerja.services.fake_b": other})
        try:
            assert {"prakerja.services.fake", "prakerja.services.fake_b"} in _cycles()
        finally:
            del MODULES["prakerja.services.fake"], MODULES["prakerja.services.fake_b"]
