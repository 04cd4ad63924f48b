"""``prakerja-ops funnel`` on the local stack after the demo's traffic prints the demo's numbers.

The demo counts its people one by one through ``GET /v1/me``; the command reads only the counters
the functions kept as the steps happened. The counters count every applicant of the stack, so this
relies, as the demo's mailbox check does, on the shared stack having served only the demo so far
(this module sorts right after ``test_demo.py``, before the modules that sign up people of their own).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator

import pytest

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws
from prakerja_local.demo import FUNNEL
from prakerja_ops.cli import main as ops_main


@pytest.fixture
def ops_in_process() -> Iterator[None]:
    """``--local`` points this process's AWS calls and clock at the stack: put them back after."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
    prakerja_clock.set_source(None)
    aws.reset()


def run_ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_prakerja_ops_funnel_prints_the_same_numbers_as_the_demo(base_url, demo_run, ops_in_process):
    # Given the demo's two batches of traffic, its own count of people per step last
    demo_line = demo_run.lines[-1]
    assert demo_line.startswith("funnel: ")
    # When an operator asks the stack for its funnel
    code, out, err = run_ops("--local", base_url, "funnel")
    # Then the six numbers are the demo's, in the same machine-readable line
    assert code == 0, err
    assert out.splitlines()[-1] == demo_line
    assert out.splitlines()[-1] == "funnel: " + " ".join(f"{k}={demo_run.funnel[k]}" for k in FUNNEL)
    # And the JSON form agrees
    code, out, err = run_ops("--local", base_url, "funnel", "--json")
    assert code == 0, err
    assert json.loads(out)["funnel"] == demo_run.funnel
