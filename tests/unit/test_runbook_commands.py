"""Every ``prakerja-ops`` command the runbook (docs/runbook.md) and the README's operations section
name is one the CLI accepts: each is parsed by ``build_parser`` with its placeholders filled in,
so a renamed command, subcommand or option fails here instead of in an incident."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from prakerja_ops.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = (REPO / "docs" / "runbook.md", REPO / "README.md")
# a command starts at `$OPS` (the runbook's prakerja-ops --stack-name ...) or `prakerja-ops`
# followed by a word; it ends at a backtick, a comment or the end of the line
_COMMAND = re.compile(r"(?:\$OPS|\bprakerja-ops)((?:\s+--(?:stack-name|local|endpoint|region)\s+\S+)*\s+[a-z][^`#\n]*)")
_PLACEHOLDER = re.compile(r"<([^>]+)>")
EXAMPLES = {"batch_id": "2026-01", "queue": "nik", "email": "budi@example.id", "published sha256": "0" * 64}


def _fill(command: str) -> list[str]:
    text = _PLACEHOLDER.sub(lambda m: EXAMPLES.get(m.group(1), "x"), command.strip())
    return shlex.split(text.replace("…", "x"))


def commands() -> list[tuple[str, str]]:
    """(file name, command after ``prakerja-ops``) for every command in the documents."""
    found = []
    for doc in DOCS:
        if not doc.is_file():
            continue
        for match in _COMMAND.finditer(doc.read_text(encoding="utf-8")):
            found.append((doc.name, match.group(1).strip()))
    return sorted(set(found))


COMMANDS = commands()


def test_the_runbook_names_the_operations_commands() -> None:
    # guards against a pattern change that would make the check below vacuous
    named = {_fill(c)[0] if not c.startswith("--") else _fill(c)[2] for d, c in COMMANDS if d == "runbook.md"}
    assert {"queues", "dlq", "funnel", "registration", "batches", "draw", "keys", "applicant"} <= named


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}: {c}" for d, c in COMMANDS])
def test_every_documented_command_parses(doc: str, command: str) -> None:
    # Given the command as documented, placeholders filled in
    argv = _fill(command)

    # When the CLI's parser reads it
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{doc}: `prakerja-ops {command}` is refused by the CLI (exit {exc.code}): "
                        f"{errors.getvalue().strip()}")

    # Then it names a runnable command
    assert callable(getattr(args, "run", None)), f"{doc}: `prakerja-ops {command}` names a group, not a command"
