"""mypy over ``src/prakerja`` with the pydantic plugin (issue 14, item 5), from its own virtualenv
(``requirements/typecheck.lock``, venv name ``typecheck``). The configuration and what is not
strict are in ``pyproject.toml`` (``[tool.mypy]``)."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_CACHE = ["--no-incremental", "--cache-dir", "/dev/null"]  # nothing written into the clone


@pytest.fixture(scope="module")
def mypy() -> Path:
    lock = ROOT / "requirements" / "typecheck.lock"
    done = subprocess.run([str(ROOT / "scripts" / "venv.sh"), "typecheck", str(lock)], capture_output=True, text=True,
                          check=True, timeout=600)
    return Path(done.stdout.strip().splitlines()[-1]) / "bin" / "mypy"


def test_src_has_no_type_errors(mypy):
    done = subprocess.run([str(mypy), *NO_CACHE], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert done.stdout.startswith("Success: no issues found")


def test_the_check_fails_on_a_type_error_with_the_same_configuration(mypy, tmp_path):
    """The gate is live: the project's configuration (pydantic plugin included) refuses a wrong
    field type passed to a pydantic model and an unannotated function."""
    bad = tmp_path / "bad.py"
    bad.write_text(textwrap.dedent("""
        from pydantic import BaseModel

        class M(BaseModel):
            n: int

        M(n="x")

        def untyped(a):
            return a
    """), encoding="utf-8")
    done = subprocess.run([str(mypy), *NO_CACHE, "--config-file", str(ROOT / "pyproject.toml"), str(bad)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout
    assert 'Argument "n" to "M" has incompatible type "str"' in done.stdout
    assert "Function is missing a type annotation" in done.stdout
