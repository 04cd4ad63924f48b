"""One local stack (started as ``make run`` starts it) and one demo run per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from prakerja_local import launch
from prakerja_local.demo import Demo
from tests.e2e.browser import browser, page, web_stack  # noqa: F401 (the browser tests' fixtures)

ARTIFACTS = Path(__file__).parents[2] / "artifacts"


@dataclass
class DemoRun:
    """What the shared demo run printed and returned."""

    funnel: dict[str, int]
    lines: list[str]
    demo: Demo


@pytest.fixture(scope="session")
def local_stack() -> Iterator[launch.RunningStack]:
    # sign-up reads the registration switch on every request (no 10 s cache), so a pause applies at once
    stack = launch.start(ARTIFACTS / "e2e-stack.log", env={"PRAKERJA_LOCAL_QUOTA": "10",
                                                           "REGISTRATION_SWITCH_MAX_AGE_SECONDS": "0"})
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def base_url(local_stack: launch.RunningStack) -> str:
    return local_stack.base_url


@pytest.fixture(scope="session")
def demo_run(base_url: str) -> DemoRun:
    """The demo with 20 applicants, run once; later checks of demo traffic reuse it."""
    lines: list[str] = []
    demo = Demo(base_url, 20, seed=2020)
    funnel = demo.run(lines.append)
    (ARTIFACTS / "e2e-demo.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return DemoRun(funnel, lines, demo)
