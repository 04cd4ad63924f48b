"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

import pytest

from prakerja.observability import metrics


@pytest.fixture
def published(monkeypatch, capsys):
    """Metrics published to stdout as on Lambda (the harness disables them), none left over from
    elsewhere; yields ``capsys`` to read them."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()
    capsys.readouterr()
    yield capsys
    metrics.clear_metrics()
