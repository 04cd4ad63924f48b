"""``prakerja-ops`` against a moto server as the local stack runs it: ``--endpoint`` (names by the
local naming convention) and ``--local`` (names, endpoint and the moved clock from ``/_local/info``)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from prakerja import clock as prakerja_clock
from prakerja.adapters import aws
from prakerja.domain import selection
from prakerja_local.provision import provision
from prakerja_local.template import Template
from prakerja_ops.cli import main as ops_main

COMMITMENT = selection.commitment("rahasia-undian-target-0006-0123456789")
TOUCHED = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def ops(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = ops_main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def moto_server(monkeypatch) -> Iterator[tuple[str, dict]]:
    """A moto server with the template's resources, as ``make run`` provisions it; the variables
    and the clock the ops command sets are restored afterwards."""
    for name in TOUCHED:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    for name in ("BATCHES_TABLE", "AUDIT_BUCKET", "APPLICANTS_TABLE"):
        monkeypatch.delenv(name, raising=False)
    moto_api_backend.reset()  # moto's state is per process, not per server
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
    try:
        resources = provision(endpoint, Template.load())
        yield endpoint, resources.physical
    finally:
        server.stop()
        moto_api_backend.reset()
        aws.reset()
        prakerja_clock.set_source(None)


@pytest.fixture
def info_server(moto_server) -> Iterator[str]:
    """A stand-in for the local stack's gateway: ``/_local/info`` with a clock moved to 2030."""
    endpoint, physical = moto_server
    info = {"moto_endpoint": endpoint, "region": "ap-southeast-3", "now": "2030-01-01T00:00:00Z",
            "resources": {"physical": physical}}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = json.dumps(info).encode()
            self.send_response(200 if self.path == "/_local/info" else 404)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_the_endpoint_target_names_resources_by_the_local_convention(moto_server):
    endpoint, _ = moto_server
    code, out, err = ops("--endpoint", endpoint, "batches", "create", "--id", "2099-01", "--opens", "2099-01-01 09:00",
                         "--closes", "2099-01-02 09:00", "--announce", "2099-01-03 09:00", "--quota", "5",
                         "--commitment", COMMITMENT)
    assert code == 0, err
    code, out, err = ops("--endpoint", endpoint, "batches", "list", "--json")
    assert code == 0, err
    assert [(b["batch_id"], b["status"], b["opens_at"]) for b in json.loads(out)] == [
        ("2099-01", "SCHEDULED", "2099-01-01T02:00:00Z")]


def test_the_local_target_reads_the_info_page_and_follows_the_stack_clock(moto_server, info_server):
    endpoint, _ = moto_server
    # Given a batch that, by the system clock, opens in 2029 and closes in 2029
    assert ops("--endpoint", endpoint, "batches", "create", "--id", "2029-01", "--opens", "2029-06-01 09:00",
               "--closes", "2029-06-02 09:00", "--announce", "2029-06-03 09:00", "--quota", "5",
               "--commitment", COMMITMENT)[0] == 0
    # When the operator lists it through the local stack, whose clock was moved to 2030
    code, out, err = ops("--local", info_server, "batches", "list", "--json")
    # Then the command used the stack's resources and its clock: the batch shows CLOSED
    assert code == 0, err
    assert [(b["batch_id"], b["status"]) for b in json.loads(out)] == [("2029-01", "CLOSED")]


def test_an_unreachable_local_stack_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    code, _, err = ops("--local", "http://127.0.0.1:9", "batches", "list")
    assert code == 2 and "cannot read http://127.0.0.1:9/_local/info" in err
