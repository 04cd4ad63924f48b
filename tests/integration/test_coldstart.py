"""``make bench-coldstart`` (bench/coldstart.py): it runs and prints its figures, and what each
function imports at cold start. Behaviour only: no timed assertion (the figures are the bench's)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("coldstart_bench", ROOT / "bench" / "coldstart.py")
coldstart = sys.modules.setdefault("coldstart_bench", importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(coldstart)

#: never needed at cold start by any HTTP function: Pillow (only the S3-event worker decodes
#: photos), argon2 (only password checks, on first use), httpx (only the NIK worker calls the
#: ministry), the X-Ray SDK (tracing is off unless POWERTOOLS_TRACE_ENABLED)
NOT_AT_HTTP_COLD_START = {"PIL", "pillow_heif", "argon2", "httpx", "aws_xray_sdk"}
#: workers that never see an access token need neither PyJWT nor cryptography
NOT_AT_WORKER_COLD_START = NOT_AT_HTTP_COLD_START | {"jwt", "cryptography"}


def test_tiny_run_prints_the_table_and_a_machine_readable_last_line():
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "coldstart.py"), "--runs", "1",
                           "--functions", "KtpUploadFunction,EmailSenderFunction"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert re.fullmatch(r"coldstart: worst_ratio=\d+\.\d\d median_ratio=\d+\.\d\d", lines[-1]), lines[-1]
    rows = {line.split()[0] for line in lines if line.strip()}
    assert {"baseline", "framework", "KtpUploadFunction", "EmailSenderFunction"} <= rows
    assert "RegisterFunction" not in rows


def test_an_unknown_function_is_refused():
    with pytest.raises(SystemExit, match="NoSuchFunction"):
        coldstart.main(["--runs", "1", "--functions", "NoSuchFunction"])


def _cold_import(function_id: str) -> dict:
    """Import the handler in a fresh Lambda-like process (sockets blocked: a network call at
    import ends the bench with SystemExit); the child's report."""
    target = next(t for t in coldstart.targets([function_id]) if t.name == function_id)
    return coldstart.measure(target)


@pytest.mark.parametrize("function_id", ["RegisterFunction", "VerifyEmailFunction", "KtpUploadFunction",
                                         "BiodataFunction", "AssessmentFunction", "BatchesFunction"])
def test_http_functions_import_no_library_they_do_not_use_at_every_request(function_id):
    report = _cold_import(function_id)
    assert report["callable"] and report["network"] == []
    assert set(report["heavy"]) & NOT_AT_HTTP_COLD_START == set()


def test_the_biodata_function_loads_its_own_needs_only():
    heavy = set(_cold_import("BiodataFunction")["heavy"])
    assert "cryptography" in heavy  # the NIK and KK envelopes (AES-GCM)
    assert heavy & {"PIL", "pillow_heif", "httpx", "argon2"} == set()


def _all_functions() -> list[str]:
    from prakerja_local.template import Template

    return sorted(Template.load(ROOT / "template.yaml").functions())


@pytest.mark.parametrize("function_id", _all_functions())
def test_every_function_of_the_template_imports_in_a_lambda_like_process(function_id):
    # every handler loads with the template's environment (deploy parameters without a default get
    # the local stack's values), reaches no network, and is callable
    report = _cold_import(function_id)
    assert report["callable"] and report["network"] == []


@pytest.mark.parametrize("function_id", ["NikWorkerFunction", "KtpProcessFunction", "BatchTickFunction",
                                         "DrawResultsFunction", "EmailBounceFunction"])
def test_workers_load_neither_the_address_validator_nor_pyjwt_unless_they_mail_or_see_tokens(function_id):
    heavy = set(_cold_import(function_id)["heavy"])
    assert heavy & {"PIL", "pillow_heif", "argon2", "aws_xray_sdk", "jwt", "email_validator"} == set()


@pytest.mark.parametrize("function_id", ["EmailSenderFunction", "OutboxSweeperFunction"])
def test_workers_without_tokens_load_neither_jwt_nor_cryptography(function_id):
    report = _cold_import(function_id)
    assert set(report["heavy"]) & NOT_AT_WORKER_COLD_START == set()
