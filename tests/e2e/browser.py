"""Browser fixtures and helpers for the web client's tests (tests/e2e/test_web_*.py).

Playwright (sync API) drives Debian's Chromium (``/usr/bin/chromium``; ``playwright install``
cannot download a browser here) at a phone's width, 360 px, against a local stack of its own
(one per test module, started as ``make run`` starts it; its PublicBaseUrl, hence the KTP
bucket's CORS rule and the emailed links, is the origin the browser uses). axe-core, from the
npm registry, is injected for the accessibility checks. ``scripts/ensure-browser.sh`` installs
both; without them the tests skip with the reason (or fail when ``PRAKERJA_REQUIRE_BROWSER=1``,
as in CI).

The fixtures ``browser`` (one Chromium per session), ``web_stack`` (one stack per module) and
``page`` are made known to every e2e test by one import in tests/e2e/conftest.py.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from prakerja_local import launch

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
PHOTOS = REPO / "tests" / "fixtures" / "photos"
CACHE = Path(os.environ.get("PRAKERJA_CACHE") or Path.home() / ".cache" / "prakerja")
CHROMIUM = Path(os.environ.get("PRAKERJA_CHROMIUM", "/usr/bin/chromium"))
AXE = CACHE / "npm" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
WIDTH, HEIGHT = 360, 800
PASSWORD = "kopi-tubruk-2020"
# Budi Santoso, a ready-made identity of the ministry simulator (README "Ready-made identities")
BUDI = {"nik": "3201010101900001", "full_name": "Budi Santoso", "place_of_birth": "Bogor",
        "date_of_birth": "1990-01-01", "sex": "M", "address": "Jl. Melati No. 12, RT 003/RW 005",
        "province_code": "32", "regency_code": "32.01", "district_code": "32.01.01", "education": "SMA",
        "work_status": "laid_off", "not_in_formal_education": True, "phone": "081234567890"}


def _unavailable(reason: str) -> None:
    hint = "run scripts/ensure-browser.sh (make test does)"
    if os.environ.get("PRAKERJA_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests required (PRAKERJA_REQUIRE_BROWSER=1) but {reason}; {hint}")
    pytest.skip(f"{reason}; {hint}")


# ---------------------------------------------------------------- the stack
@dataclass
class WebStack:
    """A running local stack and plain-HTTP helpers around it (for setting up, not for the
    steps under test, which go through the browser)."""

    running: launch.RunningStack
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.running.base_url, timeout=60)

    @property
    def url(self) -> str:
        return self.running.base_url

    def mail(self, to: str, subject_has: str = "", wait: float = 20.0) -> dict:
        """The newest email to ``to`` (whose subject contains ``subject_has``), waiting for it."""
        deadline = time.monotonic() + wait
        while True:
            found = [m for m in self.http.get("/_local/mailbox", params={"to": to}).json()
                     if subject_has.lower() in m["subject"].lower()]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no email to {to} with {subject_has!r} in {wait} s")
            time.sleep(0.3)

    @staticmethod
    def link(message: dict) -> str:
        """The first http(s) link in an email's text."""
        found = re.search(r"https?://\S+", message["text"])
        assert found, f"no link in: {message['text']!r}"
        return found.group(0)

    @staticmethod
    def token(link: str) -> str:
        """The token of an emailed link, whatever its form (``#token=...`` or ``.../{token}``)."""
        found = re.search(r"(?:#token=|/)([A-Za-z0-9_-]{16,})$", link)
        assert found, f"no token in {link}"
        return found.group(1)

    def verified_account(self, email: str, password: str = PASSWORD) -> dict:
        """Sign up, confirm the emailed link and sign in over HTTP; the token pair."""
        r = self.http.post("/v1/accounts", json={"email": email, "password": password, "consent": True})
        assert r.status_code == 202, r.text
        token = self.token(self.link(self.mail(email, "konfirmasi")))
        assert self.http.post(f"/v1/email-verifications/{token}").status_code == 200
        r = self.http.post("/v1/sessions", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        return r.json()

    def drain(self, timeout: float = 60) -> None:
        self.http.post("/_local/pumps/drain", params={"timeout": timeout})

    def advance(self, seconds: float) -> str:
        return self.http.post("/_local/clock", json={"advance_seconds": seconds}).json()["now"]


@pytest.fixture(scope="module")
def web_stack(request: pytest.FixtureRequest) -> Iterator[WebStack]:
    """A fresh local stack for one test module (its clock and batches are the module's own)."""
    name = Path(str(request.node.fspath)).stem
    running = launch.start(ARTIFACTS / f"e2e-{name}-stack.log", env={"PRAKERJA_LOCAL_QUOTA": "10"})
    stack = WebStack(running)
    try:
        yield stack
    finally:
        stack.http.close()
        running.stop()


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    if not CHROMIUM.is_file():
        _unavailable(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@dataclass
class Console:
    """What the page said on its console, and the errors it threw."""

    messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        # a failed request (401 before a refresh, 410 for a spent link, an aborted upload) is
        # logged by Chromium itself; what counts is script errors and our own warnings
        return self.errors + [m for m in self.messages if "Failed to load resource" not in m]


@pytest.fixture
def page(browser: Any, web_stack: WebStack) -> Iterator[Any]:
    """A new browser context at 360 x 800 (a phone), Indonesian, on Jakarta time."""
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="id-ID",
                                  timezone_id="Asia/Jakarta", base_url=web_stack.url)
    context.set_default_timeout(20_000)
    new_page = context.new_page()
    console = Console()
    new_page.on("console", lambda m: console.messages.append(f"{m.type} at {new_page.url}: {m.text}")
                if m.type in ("error", "warning") else None)
    new_page.on("pageerror", lambda e: console.errors.append(f"pageerror at {new_page.url}: {e} {e.stack}"))
    new_page.console = console
    yield new_page
    context.close()
    assert not console.problems(), f"console problems: {console.problems()}"


# ---------------------------------------------------------------- checks
def axe_check(page: Any, name: str) -> list[dict]:
    """Run axe-core (WCAG 2.1 A/AA and best practices) on the page as it is; fail on serious or
    critical findings. Every finding is written to artifacts/axe/<name>.json."""
    if not AXE.is_file():
        _unavailable(f"axe-core is not installed at {AXE}")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # evaluated through the DevTools protocol, which the site's Content-Security-Policy (no
        # inline script) does not govern; a <script> tag of its text would be refused
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag',
            values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""")
    out = ARTIFACTS / "axe"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not serious, f"{name}: axe found {json.dumps(serious, indent=1, ensure_ascii=False)}"
    return result


def fits_width(page: Any, name: str) -> None:
    """Nothing wider than the 360 px viewport (no sideways scrolling)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, f"{name}: the page is {width} px wide at a {WIDTH} px viewport"


def screenshot(page: Any, name: str, full_page: bool = True) -> Path:
    """A screenshot at 360 px (the whole page, or what the screen shows) into
    artifacts/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def i18n_missing(page: Any) -> list[str]:
    """Keys this page asked for that have no text (the page's i18n module records them)."""
    return page.evaluate("async () => [...(await import('/js/i18n.js')).missing]")


def check_page(page: Any, name: str, shot: bool = True, full_page: bool = True) -> None:
    """The checks every page state gets: axe, fits 360 px, every text present; a screenshot
    (``full_page=False`` for pages with a sticky bar, which a full-page capture misplaces)."""
    page.wait_for_load_state("networkidle")
    fits_width(page, name)
    axe_check(page, name)
    assert not i18n_missing(page), f"{name}: texts missing for {i18n_missing(page)}"
    if shot:
        screenshot(page, name, full_page)


def sign_in_browser(page: Any, email: str, password: str = PASSWORD, next_path: str = "/status") -> None:
    """Sign in through the sign-in page."""
    page.goto(f"/masuk?next={quote(next_path, safe='')}")  # encoded: the URL must not match before the redirect
    page.get_by_label("Alamat email").fill(email)
    page.get_by_label("Kata sandi", exact=True).fill(password)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_url(f"**{next_path}")
    page.wait_for_load_state("networkidle")


def session_tokens(page: Any) -> dict:
    return page.evaluate("() => ({access: sessionStorage.getItem('prakerja.access'),"
                         " refresh: sessionStorage.getItem('prakerja.refresh')})")
