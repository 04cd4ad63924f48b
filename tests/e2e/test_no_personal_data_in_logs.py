"""Everything the local stack logged during the shared demo run names none of the run's people."""

from __future__ import annotations

from tests.e2e.conftest import ARTIFACTS


def test_the_demo_runs_logs_hold_no_email_nik_kk_name_or_phone(demo_run, local_stack):
    # Given the log of the stack that served the demo (every function's Powertools output and the
    # stack's own lines)
    log = (ARTIFACTS / "e2e-stack.log").read_text(encoding="utf-8", errors="replace")
    assert "mangum.http" in log or '"level"' in log  # the log really holds the run's traffic
    # Then none of the demo's personal data appears in it
    found = []
    for person in demo_run.demo.people:
        secrets = {person.email, person.email.lower(), person.nik, person.kk_number, person.phone,
                   "+62" + person.phone[1:]}
        if len(person.full_name) >= 5:  # very short single names could occur by chance in any text
            secrets.add(person.full_name)
        found += [person.index for value in secrets if value and value in log]
    assert found == []
