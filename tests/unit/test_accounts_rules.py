"""Pure account rules: counting windows (limits, Retry-After) and the consent view and gate."""

from __future__ import annotations

import pytest

from prakerja.domain.accounts import consent_active, consent_view, seconds_left, window_start
from prakerja.domain.errors import Forbidden
from prakerja.services.consent import require_active


def test_windows_are_aligned_to_the_epoch():
    assert window_start(900, 900) == 900
    assert window_start(1799, 900) == 900
    assert window_start(1800, 900) == 1800


def test_retry_after_is_the_time_left_in_the_window_never_zero():
    assert seconds_left(900, 900) == 900
    assert seconds_left(1799, 900) == 1
    assert seconds_left(1000, 900) == 800


def test_a_window_must_have_a_length():
    with pytest.raises(ValueError):
        window_start(10, 0)


def test_the_consent_view_shows_version_time_and_withdrawal():
    profile = {"consent_version": "2020-04", "consent_at": "2026-04-11T03:00:00Z"}
    assert consent_view(profile) == {"version": "2020-04", "given_at": "2026-04-11T03:00:00Z", "withdrawn_at": None}
    assert consent_active(profile)


def test_a_withdrawn_consent_stops_processing():
    profile = {"consent_version": "2020-04", "consent_at": "2026-04-11T03:00:00Z",
               "consent_withdrawn_at": "2026-04-12T03:00:00Z"}
    assert not consent_active(profile)
    with pytest.raises(Forbidden) as raised:
        require_active(profile)
    assert raised.value.code == "CONSENT_WITHDRAWN"


def test_consent_given_again_clears_the_withdrawal():
    assert consent_active({"consent_at": "2026-04-13T03:00:00Z", "consent_withdrawn_at": None})
    require_active({"consent_at": "2026-04-13T03:00:00Z", "consent_withdrawn_at": None})
    require_active(None)  # a missing profile is the caller's own check
