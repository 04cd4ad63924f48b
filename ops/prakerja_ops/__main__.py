"""``python -m prakerja_ops``: the same as the ``prakerja-ops`` console script."""

from __future__ import annotations

import sys

from prakerja_ops.cli import run

if __name__ == "__main__":
    sys.exit(run())
