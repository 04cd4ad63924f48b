"""``sam build --cached --parallel`` of every function and the layer for arm64, and the aarch64 check
of every compiled library in the output (``scripts/sam_build_check.py``).

The build runs only with ``PRAKERJA_SAM_BUILD=1`` (``make test`` sets it), needs the sam
virtualenv (``PRAKERJA_SAM_VENV``) and a working ``python3.12``; it is skipped, with the reason,
when one is missing. The ELF reader the check relies on is tested here always.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "sam_build_check.py"
EXIT_SKIP = 3


def _check_module():
    spec = importlib.util.spec_from_file_location("sam_build_check", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _elf_header(machine: int, little: bool = True) -> bytes:
    order = "little" if little else "big"
    ident = b"\x7fELF" + bytes([2, 1 if little else 2, 1]) + bytes(9)
    return ident + (3).to_bytes(2, order) + machine.to_bytes(2, order) + bytes(44)


def test_elf_reader_tells_aarch64_from_x86_64(tmp_path: Path) -> None:
    check = _check_module()
    assert check.elf_machine(_elf_header(183)) == 183
    assert check.elf_machine(_elf_header(62)) == 62
    assert check.elf_machine(_elf_header(183, little=False)) == 183
    assert check.elf_machine(b"INPUT(-lfoo)\n" + bytes(20)) is None

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "_ok.cpython-312-aarch64-linux-gnu.so").write_bytes(_elf_header(183))
    (tmp_path / "pkg" / "libx.so.1.2").write_bytes(_elf_header(62))
    (tmp_path / "pkg" / "module.py").write_bytes(_elf_header(62))  # not a library: ignored
    (tmp_path / "pkg" / "script.so").write_text("not ELF")  # not ELF: ignored
    assert check.foreign_libraries(tmp_path) == (1, ["pkg/libx.so.1.2: x86_64"])


def test_sam_build_is_arm64_throughout() -> None:
    if os.environ.get("PRAKERJA_SAM_BUILD") != "1":
        pytest.skip("sam build runs only with PRAKERJA_SAM_BUILD=1 (`make test` sets it)")
    if not os.environ.get("PRAKERJA_SAM_VENV"):
        pytest.skip("PRAKERJA_SAM_VENV is not set: point it at the sam virtualenv "
                    "(`scripts/venv.sh sam requirements/sam.lock` prints it; `make test` sets it)")
    result = subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, capture_output=True, text=True,
                            timeout=1800)
    print(result.stdout, end="")
    if result.returncode == EXIT_SKIP:
        pytest.skip(result.stdout.strip().removeprefix("SKIP: "))
    assert result.returncode == 0, f"{result.stdout}{result.stderr}"
