"""The main job on realistic input: N synthetic applicants through every step, over HTTP.

``python -m prakerja_local.demo --applicants N --base-url http://127.0.0.1:8000`` drives a
running local stack (``make demo`` starts one for it). Each applicant signs up, confirms the
email from the mailbox, uploads a KTP-like JPEG with the presigned POST, submits biodata checked
by the ministry simulator, takes the test and joins the open batch; then the clock is moved past
the close and the announcement. Two batches run: after batch 1 is announced, half of those not
selected (rounded up, a seeded choice) join batch 2 once it opens, and batch 2 closes and
announces in turn. The funnel is printed as the government reported it in April 2020, with one
line per batch. A seeded share behaves like real people:

=================  ===========================================================================
behaviour          what the applicant does
=================  ===========================================================================
no_click           never clicks the email link (stops there)
typo_caught        mistypes the NIK so that the local check refuses it (422), then corrects it
typo_fixed         mistypes the NIK so that only the ministry can tell (REJECTED; the ministry
                   says NOT_FOUND, the applicant sees DATA_NOT_MATCHING_DUKCAPIL),
                   then corrects it and is verified
typo_gave_up       the same ministry rejection, but never corrects it
fails_test         answers the test badly (FAILED)
joins_late         tries to join only after the batch has closed (409 BATCH_CLOSED)
=================  ===========================================================================

With N >= 20 every behaviour occurs at least once; the sets are disjoint. Per batch it prints
``batch <id>: participants=… selected=…``. The last line is machine-readable: ``funnel:
registered=… email_verified=… nik_verified=… assessment_passed=… joined_batch=… selected=…``
(distinct people; joined and selected in any batch).
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from prakerja import clock as prakerja_clock
from prakerja.domain.assessment import load_bank
from prakerja_local import journey, synth

BEHAVIOURS = ("no_click", "typo_caught", "typo_fixed", "typo_gave_up", "fails_test", "joins_late")
SHARES = {"no_click": 0.10, "typo_caught": 0.08, "typo_fixed": 0.06, "typo_gave_up": 0.06,
          "fails_test": 0.10, "joins_late": 0.06}
FUNNEL = ("registered", "email_verified", "nik_verified", "assessment_passed", "joined_batch", "selected")


# The stack answered something the scenario did not expect (one class with the journey's).
DemoError = journey.JourneyError


def assign_behaviours(n: int, rng: random.Random) -> list[str]:
    """One behaviour per applicant (``normal`` for most); each special one at least once when
    ``n`` >= 20, disjoint."""
    order = list(range(n))
    rng.shuffle(order)
    out = ["normal"] * n
    pos = 0
    for name in BEHAVIOURS:
        count = max(1 if n >= 20 else 0, round(SHARES[name] * n))
        for i in order[pos:pos + count]:
            out[i] = name
        pos += count
    return out


def rejoin_count(not_selected: int) -> int:
    """How many of those not selected in batch 1 join batch 2: half, rounded up."""
    return (not_selected + 1) // 2


def expected_funnel(behaviours: list[str], quota: int, second_quota: int | None = None) -> dict[str, int]:
    """What the scenario intends, step by step (distinct people; joined and selected in any
    batch). With ``second_quota``, :func:`rejoin_count` of batch 1's not selected join batch 2."""
    c = Counter(behaviours)
    n = len(behaviours)
    verified = n - c["no_click"]
    joined = verified - c["typo_gave_up"] - c["fails_test"] - c["joins_late"]
    selected = min(quota, joined)
    if second_quota is not None:
        selected += min(second_quota, rejoin_count(joined - selected))
    return {"registered": n, "email_verified": verified, "nik_verified": verified - c["typo_gave_up"],
            "assessment_passed": verified - c["fails_test"], "joined_batch": joined,
            "selected": selected}


@dataclass
class Applicant:
    """One synthetic person and what the demo holds for them."""

    person: synth.Person
    behaviour: str
    tokens: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


class Demo:
    """Drives the local stack at ``base_url`` over HTTP."""

    def __init__(self, base_url: str, n: int, seed: int = 2020, workers: int = 8, timeout: float = 180.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30.0)
        self.n, self.seed, self.workers, self.timeout = n, seed, workers, timeout
        self.rng = random.Random(seed)
        self.bank = {q.question_id: q for q in load_bank().items}

    # ------------------------------------------------------------------ plumbing
    def now(self) -> str:
        return self.http.get("/_local/clock").json()["now"]

    def advance(self, seconds: float) -> None:
        self.http.post("/_local/clock", json={"advance_seconds": seconds}).raise_for_status()

    def drain(self) -> None:
        self.http.post("/_local/pumps/drain", json={"timeout": 120}, timeout=150).raise_for_status()

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float | None = None) -> Any:
        return journey.wait_for(what, check, timeout or self.timeout)

    def auth(self, a: Applicant) -> dict[str, str]:
        return journey.auth(a.tokens)

    def refresh(self, a: Applicant) -> None:
        """Refresh the access token as a real client does after time moved on."""
        journey.refresh(self.http, a.tokens)

    def me(self, a: Applicant) -> dict:
        return journey.me(self.http, a.tokens)

    def expect(self, response: httpx.Response, status: int, what: str) -> dict:
        return journey.expect(response, status, what)

    # ------------------------------------------------------------------ one applicant's way
    def sign_up_and_confirm(self, a: Applicant) -> None:
        p = a.person
        journey.sign_up(self.http, p.email, p.password)
        token = journey.verification_token(self.http, p.email, self.timeout)
        if a.behaviour != "no_click":
            journey.confirm_email(self.http, token)
        a.tokens = journey.sign_in(self.http, p.email, p.password)

    def upload_ktp(self, a: Applicant) -> None:
        journey.upload_ktp(self.http, a.tokens, synth.ktp_photo(a.person, seed=self.seed + a.person.index))

    def submit_biodata(self, a: Applicant, today: date) -> None:
        p = a.person
        rng = random.Random(self.seed * 7919 + p.index)
        if a.behaviour == "typo_caught":
            typo = synth.mistype_nik(p.nik, rng, catchable=True, today=today)
            journey.submit_biodata(self.http, a.tokens, p.biodata(nik=typo), 422)
        if a.behaviour in {"typo_fixed", "typo_gave_up"}:
            typo = synth.mistype_nik(p.nik, rng, catchable=False, today=today)
            journey.submit_biodata(self.http, a.tokens, p.biodata(nik=typo))
            self.wait_for("ministry rejection", lambda: self.me(a)["steps"]["nik"]["status"] == "REJECTED")
            if a.behaviour == "typo_gave_up":
                return
        journey.submit_biodata(self.http, a.tokens, p.biodata())

    def take_test(self, a: Applicant) -> None:
        good = a.behaviour != "fails_test"
        if journey.take_test(self.http, a.tokens, lambda question_id: self.answer(question_id, good)) != good:
            raise DemoError("test outcome differs from the scenario")

    def answer(self, question_id: str, good: bool) -> str:
        """The option a good (or a bad) candidate picks for ``question_id``."""
        item = self.bank[question_id]
        if item.correct:
            wrong = next(o.option_id for o in item.options if o.option_id != item.correct)
            return item.correct if good else wrong
        return item.options[(0 if item.reverse else -1) if good else (-1 if item.reverse else 0)].option_id

    def journey(self, a: Applicant, today: date) -> None:
        """Everything up to (not including) joining a batch."""
        self.sign_up_and_confirm(a)
        if a.behaviour == "no_click":
            return
        self.upload_ktp(a)
        self.submit_biodata(a, today)
        self.take_test(a)

    def settled(self, a: Applicant) -> bool:
        steps = self.me(a)["steps"]
        if a.behaviour == "no_click":
            return True
        nik_done = steps["nik"]["status"] in {"VERIFIED", "REJECTED"} and (
            a.behaviour == "typo_gave_up" or steps["nik"]["status"] == "VERIFIED")
        return steps["ktp"]["status"] in {"VALID", "REJECTED"} and nik_done

    # ------------------------------------------------------------------ the whole run
    def run(self, out: Callable[[str], None] = print) -> dict[str, int]:
        self.wait_for("local stack health", lambda: self._healthy(), timeout=120)
        today = prakerja_clock.parse_iso(self.now()).astimezone(prakerja_clock.WIB).date()
        people = synth.people(self.n, self.seed, today)
        self.people = people  # kept for checks of the run (e.g. no personal data in the logs)
        applicants = [Applicant(p, b) for p, b in zip(people, assign_behaviours(self.n, self.rng), strict=True)]
        self.expect(self.http.post("/_local/ministry/people/bulk", json=[p.ministry_record() for p in people]),
                    201, "ministry population")
        out(f"demo: {self.n} applicants; behaviours {dict(Counter(a.behaviour for a in applicants))}")
        self._parallel(lambda a: self.journey(a, today), applicants)
        self._parallel(lambda a: self.wait_for("checks to settle", lambda: self.settled(a)), applicants)
        batch = self.open_batch()
        joiners = [a for a in applicants if self.eligible(a)]
        on_time = [a for a in joiners if a.behaviour != "joins_late"]
        self.join_all(batch, on_time)
        self.close_and_announce(batch, [a for a in joiners if a.behaviour == "joins_late"])
        second = self.next_batch(batch)
        not_selected = [a for a in on_time if self.me(a)["steps"]["batch"]["status"] == "NOT_SELECTED"]
        rejoiners = sorted(random.Random(self.seed + 2).sample(not_selected, rejoin_count(len(not_selected))),
                           key=lambda a: a.person.index)
        self.advance_to(second["opens_at"])
        self.join_all(second, rejoiners)
        self.close_and_announce(second, [])
        funnel = self.funnel(applicants)
        expected = expected_funnel([a.behaviour for a in applicants], int(batch["quota"]), int(second["quota"]))
        self.report_batches([batch["batch_id"], second["batch_id"]], out)
        self.report(funnel, expected, out)
        return funnel

    def join_all(self, batch: dict, applicants: list[Applicant]) -> None:
        """Every one of ``applicants`` joins ``batch`` (201), refreshing tokens as clients do."""
        self._parallel(lambda a: journey.join_batch(self.http, a.tokens, batch["batch_id"]), applicants)

    def next_batch(self, after: dict) -> dict:
        """The first batch opening after ``after`` closes (batch 2 of the seed)."""
        batches = self.http.get("/v1/batches").json()["batches"]
        later = sorted((b for b in batches if b["opens_at"] >= after["closes_at"]), key=lambda b: b["opens_at"])
        if not later:
            raise DemoError(f"no batch after {after['batch_id']}")
        return later[0]

    def advance_to(self, when: str, plus_seconds: float = 61) -> None:
        """Move the stack's clock to ``when`` (ISO UTC) plus ``plus_seconds``."""
        now = prakerja_clock.parse_iso(self.now())
        self.advance((prakerja_clock.parse_iso(when) - now).total_seconds() + plus_seconds)

    def report_batches(self, batch_ids: list[str], out: Callable[[str], None]) -> None:
        """One line per batch, from the public listing: ``batch <id>: participants=… selected=…``."""
        listed = {b["batch_id"]: b for b in self.http.get("/v1/batches").json()["batches"]}
        for batch_id in batch_ids:
            b = listed[batch_id]
            out(f"batch {batch_id}: status={b['status']} quota={b['quota']} participants={b.get('participants')} "
                f"selected={b.get('selected')}")

    def _healthy(self) -> bool:
        try:
            return self.http.get("/_local/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _parallel(self, work: Callable[[Applicant], Any], applicants: list[Applicant]) -> None:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            list(pool.map(work, applicants))

    def open_batch(self) -> dict:
        batches = self.http.get("/v1/batches").json()["batches"]
        found = [b for b in batches if b["status"] == "OPEN"]
        if not found:
            raise DemoError("no open batch")
        return found[0]

    def eligible(self, a: Applicant) -> bool:
        if a.behaviour == "no_click":
            return False
        steps = self.me(a)["steps"]
        return all(steps[s]["status"] in {"VERIFIED", "VALID", "PASSED"} for s in ("email", "ktp", "nik", "assessment"))

    def close_and_announce(self, batch: dict, late: list[Applicant]) -> None:
        self.advance_to(batch["closes_at"])
        for a in late:
            self.refresh(a)
            self.expect(self.http.post(f"/v1/batches/{batch['batch_id']}/participants", headers=self.auth(a)),
                        409, "late join")
        self.drain()
        self.advance_to(batch["announce_at"])
        self.drain()
        self.wait_for(f"batch {batch['batch_id']} announced", lambda: self._status(batch["batch_id"]) == "ANNOUNCED")

    def _status(self, batch_id: str) -> str | None:
        found = [b for b in self.http.get("/v1/batches").json()["batches"] if b["batch_id"] == batch_id]
        return found[0]["status"] if found else None

    def funnel(self, applicants: list[Applicant]) -> dict[str, int]:
        counts = dict.fromkeys(FUNNEL, 0)
        for a in applicants:
            steps = self.me(a)["steps"]
            counts["registered"] += 1
            counts["email_verified"] += steps["email"]["status"] == "VERIFIED"
            counts["nik_verified"] += steps["nik"]["status"] == "VERIFIED"
            counts["assessment_passed"] += steps["assessment"]["status"] == "PASSED"
            counts["joined_batch"] += steps["batch"]["status"] in {"JOINED", "SELECTED", "NOT_SELECTED"}
            counts["selected"] += steps["batch"]["status"] == "SELECTED"
        return counts

    @staticmethod
    def report(funnel: dict[str, int], expected: dict[str, int], out: Callable[[str], None]) -> None:
        total = funnel["registered"] or 1
        out("")
        out(f"{'step':<20}{'people':>8}{'% of registered':>18}{'scenario':>10}")
        for step in FUNNEL:
            mark = "" if funnel[step] == expected[step] else "  <-- differs"
            out(f"{step:<20}{funnel[step]:>8}{100 * funnel[step] / total:>17.2f}%{expected[step]:>10}{mark}")
        out("expected: " + " ".join(f"{k}={v}" for k, v in expected.items()))
        out("funnel: " + " ".join(f"{k}={v}" for k, v in funnel.items()))


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--applicants N --base-url URL --seed S``. Exit 1 when the funnel differs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applicants", type=int, default=100)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--start", action="store_true",
                        help="start a local stack of its own on a free port (quota: half the applicants)")
    args = parser.parse_args(argv)
    if args.start:
        from pathlib import Path

        from prakerja_local import launch

        quota = str(max(1, args.applicants // 2))
        stack = launch.start(Path("artifacts/demo-stack.log"), env={"PRAKERJA_LOCAL_QUOTA": quota})
        print(f"demo: local stack at {stack.base_url} (log: {stack.log_path}; batch quota {quota})", flush=True)
        try:
            return _run(Demo(stack.base_url, args.applicants, args.seed, args.workers))
        finally:
            stack.stop()
    return _run(Demo(args.base_url, args.applicants, args.seed, args.workers))


def _run(demo: Demo) -> int:
    lines: list[str] = []

    def out(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    funnel = demo.run(out)
    expected = next(line for line in lines if line.startswith("expected: "))
    return 0 if expected.removeprefix("expected: ") == " ".join(f"{k}={v}" for k, v in funnel.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
