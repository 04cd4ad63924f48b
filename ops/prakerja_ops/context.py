"""What every ``prakerja-ops`` command gets (:class:`Context`); the command modules import it from
here, so they and :mod:`prakerja_ops.cli` (which imports them) do not import each other."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from prakerja_ops.target import Target, resolve


class Context:
    """What a command gets: the parsed arguments, the output streams and the target (resolved
    on first use, so commands that need no stack, like ``draw verify --file``, need none)."""

    def __init__(self, args: argparse.Namespace, out: TextIO, err: TextIO) -> None:
        self.args, self.out, self.err = args, out, err
        self._target: Target | None = None

    @property
    def target(self) -> Target:
        if self._target is None:
            a = self.args
            self._target = resolve(local=a.local, endpoint=a.endpoint, stack_name=a.stack_name,
                                   name_prefix=a.name_prefix, region=a.region)
        return self._target

    def print(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def confirm(self, question: str, expected: str, fold_case: bool = False) -> bool:
        """True with ``--yes``; otherwise ask on a terminal for ``expected`` to be typed (in any
        case with ``fold_case``, as for an email address)."""
        if getattr(self.args, "yes", False):
            return True
        if not sys.stdin.isatty():
            print(f"refused: {question} needs --yes (no terminal to confirm on)", file=self.err)
            return False
        answer = input(f"{question} Type {expected!r} to confirm: ")
        if (answer.strip().casefold() != expected.casefold()) if fold_case else (answer.strip() != expected):
            print("refused: not confirmed", file=self.err)
            return False
        return True
