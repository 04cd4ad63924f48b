"""The whole local stack in one process: moto, resources, handlers, pumps, clock, ministry, gateway.

One process (threads) so that the handlers' ``prakerja.clock`` is the clock the stack moves and
moto's in-process backends (SES mailbox, the DynamoDB guard) are the ones the server uses.
Every start is from empty state: moto's backends are reset and everything is created anew.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import datetime
from pathlib import Path
from typing import Any

from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from prakerja.adapters import secrets as secrets_adapter
from prakerja.clock import iso
from prakerja_local import mailbox, moto_guard
from prakerja_local.clock import LocalClock, Scheduler
from prakerja_local.functions import FunctionRegistry
from prakerja_local.gateway import THROTTLE_ENV, Gateway, parse_throttles, security_headers
from prakerja_local.local_api import LocalApi
from prakerja_local.ministry import MinistryServer
from prakerja_local.provision import DUMMY_CREDENTIALS, Resources, client_factory, provision
from prakerja_local.pumps import Pumps, build_pumps
from prakerja_local.seed import load_seed, seed_batches, seed_ministry
from prakerja_local.servers import HttpServer
from prakerja_local.template import ACCOUNT_ID, REGION, Template

log = logging.getLogger("prakerja_local")
DEFAULT_STATIC = Path(__file__).resolve().parents[2] / "web"  # the web client (web/), served at /
# Local-only defaults for the handlers (a variable already set in the environment wins). Every
# local caller is 127.0.0.1, so the per-client email limit (300 an hour) would stop a demo of
# more applicants; the per-target limits stay as deployed.
LOCAL_FUNCTION_DEFAULTS = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
                           "MAIL_MAX_PER_CLIENT": "1000000"}


def _aws_environment(endpoint: str | None) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


class _EnvironmentPatch:
    """Sets variables in ``os.environ`` and restores the previous values on ``restore``."""

    def __init__(self) -> None:
        self.saved: dict[str, str | None] = {}

    def set(self, values: dict[str, str], only_if_unset: bool = False) -> None:
        for key, value in values.items():
            if only_if_unset and key in os.environ:
                continue
            self.saved.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def restore(self) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.saved.clear()


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class LocalStack:
    """The local stack. ``port``/``moto_port``/``ministry_port`` 0 pick free ports."""

    def __init__(
        self,
        port: int = 8000,
        moto_port: int = 0,
        ministry_port: int = 0,
        seed: Path | str | None = None,
        state_dir: Path | str | None = None,
        template: Path | str | None = None,
        static_dir: Path | str | None = None,
        name_prefix: str = "prakerja-local",
        throttle: str | None = None,
    ) -> None:
        self.port = port
        self.moto_port = moto_port
        self.ministry_port = ministry_port
        self.seed_path = seed
        self.state_dir = Path(state_dir) if state_dir else None
        self.template = Template.load(template)
        static = Path(static_dir) if static_dir else DEFAULT_STATIC
        self.static_dir = static if static.is_dir() else None
        self.name_prefix = name_prefix
        # the template's route throttles, then a test's overrides (``--throttle`` or the variable)
        overrides = throttle if throttle is not None else os.environ.get(THROTTLE_ENV, "")
        self.throttles = {**self.template.route_throttles(), **parse_throttles(overrides)}
        self.clock = LocalClock()
        self.env = _EnvironmentPatch()
        self.moto: ThreadedMotoServer | None = None
        self.ministry: MinistryServer | None = None
        self.http: HttpServer | None = None
        self.resources: Resources | None = None
        self.functions: FunctionRegistry | None = None
        self.pumps: Pumps | None = None
        self.scheduler: Scheduler | None = None
        self.batches: list[dict[str, Any]] = []
        self.started_at: datetime | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        """The gateway's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def moto_endpoint(self) -> str:
        """The moto server's endpoint URL."""
        return f"http://127.0.0.1:{self.moto_port}"

    def start(self) -> LocalStack:
        """Start everything; returns when the gateway serves and health is ok."""
        self._start_moto()
        self.clock.install()
        # moving the clock is time passing: the functions' cached secret expires as it would
        # (Powertools counts its cache age in real time), so a key rotation's activation and a
        # re-key after it behave locally as on AWS
        self.clock.on_change(secrets_adapter.reset)
        self.started_at = self.clock.now()
        self.ministry = self._make_ministry()
        self.ministry_port = self.ministry.port
        gateway = Gateway(self.template.routes(), self.invoke, LocalApi(self), self.static_dir, self.throttles)
        self.http = HttpServer(gateway, self.port, "gateway")
        self.port = self.http.port
        self._provision()
        gateway.static_headers = self._web_security_headers()
        self._seed()
        self.ministry.start()
        self._start_workers()
        self.http.start()
        self._write_state()
        return self

    def _web_security_headers(self) -> dict[str, str]:
        """The site's CloudFront security headers, resolved; the KTP bucket's origins in the
        policy become the S3 emulator's (where the local presigned POST goes)."""
        config = self.resources.resolver().resolve(self.template.web_security_headers())
        bucket = self.resources.physical.get("KtpBucket", {})
        origins = {f"https://{bucket[name]}": self.moto_endpoint
                   for name in ("RegionalDomainName", "DomainName") if name in bucket}
        return security_headers(config, origins)

    def _make_ministry(self) -> MinistryServer:
        """The ministry simulator's server (bound, not yet serving)."""
        return MinistryServer(port=self.ministry_port)

    def _start_moto(self) -> None:
        moto_guard.install()
        mailbox.install()
        moto_api_backend.reset()
        mailbox.clear()
        self.env.set(_aws_environment(None))
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=self.moto_port, verbose=False)
        self.moto.start()
        self.moto_port = self.moto.get_host_and_port()[1]
        self.env.set({"AWS_ENDPOINT_URL": self.moto_endpoint})
        log.info("moto 127.0.0.1:%d (empty state)", self.moto_port)

    def _provision(self) -> None:
        parameters = {"PublicBaseUrl": self.url, "MinistryUrl": self.ministry.url}
        self.resources = provision(self.moto_endpoint, self.template, self.name_prefix, parameters)
        self.functions = FunctionRegistry(self.template, self.resources.environments, self.name_prefix)
        self.env.set(self.functions.shared_environment())
        self.env.set(LOCAL_FUNCTION_DEFAULTS, only_if_unset=True)
        log.info(
            "provisioned %d resources; local queue visibility timeouts (s): %s",
            len(self.resources.physical),
            self.resources.visibility,
        )

    def _seed(self) -> None:
        seed = load_seed(self.seed_path)
        dynamodb = client_factory(self.moto_endpoint)("dynamodb")
        self.batches = seed_batches(
            dynamodb, self.resources.ref("BatchesTable"), seed.get("batches", []), self.started_at
        )
        people = seed_ministry(self.ministry.simulator, seed.get("ministry_people", []))
        log.info("seeded %d batches, %d ministry people", len(self.batches), people)

    def _start_workers(self) -> None:
        sqs = client_factory(self.moto_endpoint)
        self.pumps = build_pumps(self.template.sqs_sources(), self.resources.physical, lambda: sqs("sqs"), self.invoke)
        self.pumps.start()
        self.scheduler = Scheduler(self.clock, self.template.schedules(self.name_prefix), self.invoke)
        self.scheduler.start()

    def invoke(self, function_id: str, event: Any) -> Any:
        """Invoke a function of the template in this thread."""
        return self.functions.invoke(function_id, event)

    def stop(self) -> None:
        """Stop everything started, restore the environment and the system clock."""
        for part in (self.http, self.scheduler, self.pumps, self.ministry, self.moto):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    log.exception("stopping %s", type(part).__name__)
        self.clock.uninstall()
        self.env.restore()
        if self.state_dir:
            (self.state_dir / "stack.json").unlink(missing_ok=True)

    # ------------------------------------------------------------------ views
    def health_checks(self) -> dict[str, bool]:
        """Each part's state; the stack is healthy when all are true."""
        return {
            "moto": bool(self.moto) and _port_open(self.moto_port),
            "provisioned": self.resources is not None,
            "pumps": bool(self.pumps) and self.pumps.alive,
            "schedules": bool(self.scheduler) and self.scheduler.alive,
            "ministry": bool(self.ministry) and self.ministry.alive,
        }

    def info(self) -> dict[str, Any]:
        """Endpoints, ports, resource names and the state of functions, pumps and schedules."""
        res = self.resources
        return {
            "gateway": self.url,
            "port": self.port,
            "moto_endpoint": self.moto_endpoint,
            "moto_port": self.moto_port,
            "ministry_url": self.ministry.url if self.ministry else None,
            "ministry_port": self.ministry_port,
            "region": REGION,
            "account_id": ACCOUNT_ID,
            "started_at": iso(self.started_at) if self.started_at else None,
            "now": iso(self.clock.now()),
            "resources": res.to_json() if res else None,
            "environment": res.environments if res else None,
            "routes": [{"route_key": r.route_key, "function": r.function_id} for r in self.template.routes()],
            "throttles": {key: {"rate": t.rate, "burst": t.burst} for key, t in self.throttles.items()},
            "functions": self._functions_info(),
            "pumps": self._pumps_info(),
            "schedules": self._schedules_info(),
            "batches": [{k: v for k, v in b.items() if k != "secret"} for b in self.batches],
        }

    def _functions_info(self) -> dict[str, Any]:
        if not self.functions:
            return {}
        return {
            fid: {
                "code_uri": fn.code_uri,
                "handler": fn.handler,
                "timeout": fn.timeout,
                "invocations": self.functions.invocations.get(fid, 0),
            }
            for fid, fn in self.functions.functions.items()
        }

    def _pumps_info(self) -> list[dict[str, Any]]:
        if not self.pumps:
            return []
        return [
            {
                "function": p.source.function_id,
                "queue": p.source.queue_id,
                "batch_size": p.source.batch_size,
                "max_concurrency": p.source.max_concurrency,
                "busy": p.busy,
                **p.stats,
            }
            for p in self.pumps.pumps
        ]

    def _schedules_info(self) -> dict[str, Any]:
        if not self.scheduler:
            return {}
        return {
            "jobs": [
                {
                    "function": j.schedule.function_id,
                    "expression": j.schedule.expression,
                    "rule_arn": j.rule_arn,
                }
                for j in self.scheduler.jobs
            ],
            "recent": [{"function": f, "time": t} for f, t in self.scheduler.fired],
        }

    def _write_state(self) -> None:
        if not self.state_dir:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "stack.json").write_text(json.dumps(self.info(), indent=2), encoding="utf-8")

    def ready_line(self) -> str:
        """The one line printed when the stack is up."""
        return (
            f"prakerja local stack: {self.url} (moto 127.0.0.1:{self.moto_port}, "
            f"ministry 127.0.0.1:{self.ministry_port})"
        )
