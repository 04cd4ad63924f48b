"""``prakerja-ops``: the command line operators use (``python -m prakerja_ops`` too).

Every command is a thin layer over ``prakerja.services``: it resolves the target stack
(:mod:`prakerja_ops.target`), calls one service method and prints the result. Exit status: 0 on
success, 1 when a check fails or a confirmation is refused (e.g. ``draw verify`` prints
MISMATCH), 2 on a usage, connection or service error (the error code is printed).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TextIO

from prakerja.domain.errors import DomainError
from prakerja.settings import SettingsError
from prakerja_ops import applicants as applicants_cmd
from prakerja_ops import batches
from prakerja_ops import funnel as funnel_cmd
from prakerja_ops import keys as keys_cmd
from prakerja_ops import queues as queues_cmd
from prakerja_ops import registration as registration_cmd
from prakerja_ops.context import Context
from prakerja_ops.target import TargetError

GROUPS = (batches, funnel_cmd, queues_cmd, registration_cmd, keys_cmd, applicants_cmd)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command group."""
    parser = argparse.ArgumentParser(prog="prakerja-ops", description="Operate a prakerja stack (local or on AWS).")
    where = parser.add_argument_group("target (at most one; default: names in the environment)")
    where.add_argument("--local", metavar="URL", help="the local stack's gateway, e.g. http://127.0.0.1:8000")
    where.add_argument("--endpoint", metavar="URL", help="a moto endpoint, e.g. http://127.0.0.1:5000")
    where.add_argument("--stack-name", metavar="NAME", help="a deployed CloudFormation stack (AWS credentials)")
    parser.add_argument("--name-prefix", default="prakerja-local", help="resource name prefix with --endpoint")
    parser.add_argument("--region", default=None, help="AWS region (default: AWS_REGION or ap-southeast-3)")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(groups)
    return parser


def run() -> int:
    """The console entry (``prakerja-ops``, ``python -m prakerja_ops``): the services' structured
    log lines go to standard error, so standard output holds only the command's answer."""
    import logging

    from prakerja.observability import logger

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)
    return main()


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one command; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    run: Callable[[Context], int] = args.run
    ctx = Context(args, out, err)
    try:
        return run(ctx)
    except DomainError as exc:
        detail = " ".join(f"{k}={v}" for k, v in (exc.detail or {}).items())
        fields = " ".join(f"{f.field}:{f.code}" for f in exc.fields)
        print(f"error: {exc.code} {detail} {fields}".rstrip(), file=err)
        return 2
    except (TargetError, SettingsError) as exc:
        print(f"error: {exc}", file=err)
        return 2


if __name__ == "__main__":
    sys.exit(run())
