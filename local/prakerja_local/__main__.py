"""``python -m prakerja_local``: run the local stack until SIGINT/SIGTERM.

Prints one line on stdout when the stack is healthy::

    prakerja local stack: http://127.0.0.1:8000 (moto 127.0.0.1:NNNN, ministry 127.0.0.1:MMMM)

The stack's own logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from prakerja_local.seed import DEFAULT_SEED

_QUIET_LOGGERS = ("werkzeug", "botocore", "boto3", "urllib3", "httpx", "httpcore")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line options."""
    parser = argparse.ArgumentParser(prog="python -m prakerja_local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="gateway port (default 8000)")
    parser.add_argument("--moto-port", type=int, default=0, help="moto server port (0: a free port)")
    parser.add_argument("--ministry-port", type=int, default=0, help="ministry simulator port (0: a free port)")
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="seed file (default: the package's)")
    parser.add_argument("--state-dir", type=Path, default=None, help="directory for stack.json (ports, names)")
    parser.add_argument("--template", type=Path, default=None, help="template (default: the repo's)")
    parser.add_argument("--static-dir", type=Path, default=None, help="web client files served at /")
    parser.add_argument("--throttle", action="append", default=None, metavar="ROUTE=RATE/BURST",
                        help="override a route's throttle, e.g. 'POST /v1/accounts=2/4' ('*' for every "
                             "other route; repeatable; default: the template's, or $PRAKERJA_LOCAL_THROTTLE)")
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    return parser.parse_args(argv)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Start the stack, print the ready line, wait for SIGINT/SIGTERM, stop cleanly."""
    args = parse_args(argv)
    _configure_logging(args.verbose)
    from prakerja_local.stack import LocalStack

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(
        args.port,
        args.moto_port,
        args.ministry_port,
        args.seed,
        args.state_dir,
        args.template,
        args.static_dir,
        throttle=";".join(args.throttle) if args.throttle else None,
    )
    try:
        stack.start()
        unhealthy = [name for name, ok in stack.health_checks().items() if not ok]
        if unhealthy:
            logging.getLogger("prakerja_local").error("not healthy: %s", ", ".join(unhealthy))
            return 1
        print(stack.ready_line(), flush=True)
        stop.wait()
    except OSError as exc:
        logging.getLogger("prakerja_local").error("cannot start: %s", exc)
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
