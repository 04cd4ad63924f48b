"""The launch-day capacity plan and the cost per applicant: a pure function of the measured table
(``bench/capacity_measured.json``), the mix below and the AWS facts (``bench/aws_facts.yaml``).
No boto3, no clock, no machine: the same inputs render the same ``docs/capacity.md``.

**CPU time to Lambda duration: one factor, here.** Lambda allocates CPU in proportion to memory:
at 1,769 MB a function has the equivalent of one vCPU (AWS Lambda Developer Guide, "Configuring
Lambda function memory": https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
A single-threaded handler measured at ``t`` CPU seconds on this machine therefore takes
``t * ARM64_CORE_FACTOR / min(1, memory_mb / 1769)`` seconds of CPU on Lambda.
``ARM64_CORE_FACTOR`` (how much longer one Graviton core takes than one core of this machine, an
AMD EPYC, for the same Python work) is an **assumption**, not a sourced figure: 1.2. Replace it
with the ratio of a rehearsal's ``Duration`` on AWS to this table's CPU figure.
To that the plan adds the time a handler waits on the network: ``IO_MS`` per AWS call (another
**assumption**: typical in-region round trips), because Lambda bills and occupies an instance for
wall time, not CPU time.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

LAMBDA_MB_PER_VCPU = 1769
#: assumption: one arm64 (Graviton) core's time / this machine's core time for the same work
ARM64_CORE_FACTOR = 1.2
#: assumption: milliseconds a handler waits per AWS call (in-region round trip), by service
IO_MS = {"dynamodb": 5.0, "sqs": 10.0, "s3": 20.0, "sesv2": 40.0, "ses": 40.0, "sns": 15.0, "kms": 8.0,
         "secretsmanager": 15.0, "ssm": 10.0}
#: assumption: the ministry's answer time per NIK check, milliseconds (a NikWorker waits for it)
MINISTRY_MS = 300.0
#: assumption: SQS requests per message (send, its share of a 10-message receive and delete) plus polling
SQS_REQUESTS_PER_MESSAGE = 3.0
#: assumption: bytes Lambda itself logs per invocation (START, END, REPORT lines)
LAMBDA_PLATFORM_LOG_BYTES = 350
#: head-room on every "needed" figure (a quota is asked for at need x HEADROOM)
HEADROOM = 1.5
#: the emulator's share of the CPU measured inside the handlers above which a figure is the small
#: remainder of a large subtraction: a row over it is marked in docs/capacity.md, a run over it as a whole
#: is refused (``refusal``), because its CPU figures would measure moto rather than the design
HARNESS_SHARE_LIMIT = 0.95
#: a row's share above which docs/capacity.md marks its CPU figure as emulator-dominated (less than a
#: tenth of what was measured is the handler's own)
HARNESS_SHARE_MARK = 0.9


def harness_share(row: dict[str, Any]) -> float:
    """The share (0..1) of one row's measured CPU that was the harness's (moto, the recorder), not
    the handler's: ``harness_overhead_ms_mean / raw_cpu_ms.mean`` from the measured table."""
    raw = row["raw_cpu_ms"]["mean"]
    return 1.0 if raw <= 0 else max(0.0, min(1.0, row["harness_overhead_ms_mean"] / raw))


def run_harness_share(measured: dict[str, Any]) -> float:
    """The harness's share of all CPU measured inside handlers in the run (rows weighted by their
    invocation counts), 0..1."""
    raw = sum(r["raw_cpu_ms"]["mean"] * r["invocations"] for r in measured["measured"].values())
    over = sum(r["harness_overhead_ms_mean"] * r["invocations"] for r in measured["measured"].values())
    return 1.0 if raw <= 0 else max(0.0, min(1.0, over / raw))


def refusal(measured: dict[str, Any], limit: float = HARNESS_SHARE_LIMIT) -> str | None:
    """Why the measured table must not be used (``make capacity`` then writes nothing), or None.

    The CPU figures are what is left after subtracting the harness's own work, timed inside each
    handler. When the harness is more than ``limit`` of all that was measured (a slowed or
    overloaded emulator, or a handler that barely runs code of its own), the remainder is within
    the noise of the subtraction: the run measured the emulator, not the design."""
    share = run_harness_share(measured)
    if share > limit:
        return (f"harness_share={share:.3f} above {limit:g}: moto and the recorder were {share:.1%} of the CPU "
                "measured inside the handlers, so the figures would measure the emulator, not the design")
    return None



@dataclass(frozen=True)
class Mix:
    """The launch-day mix: requests per sign-up during the window (named inputs, assumptions
    drawn from the April 2020 figures in DESIGN.md: 73.85 % email-verified, 43.65 % NIK-verified
    in the first 21 hours) and the worker messages each request makes."""

    signups_per_second: float = 2700.0
    window_seconds: float = 300.0
    #: HTTP requests per sign-up in the window (route key -> ratio)
    per_signup: dict[str, float] = field(default_factory=lambda: {
        "POST /v1/accounts": 1.0,
        "POST /v1/sessions": 1.0,
        "GET /v1/email-verifications/{token}": 0.75,
        "POST /v1/email-verifications/{token}": 0.75,
        "GET /v1/me": 6.0,  # the status page: 5 s, doubling to 60 s over five minutes
        "POST /v1/sessions/refresh": 0.3,
        "POST /v1/me/biodata/preview": 0.45,
        "PUT /v1/me/biodata": 0.45,
        "GET /v1/me/biodata": 0.45,
        "POST /v1/me/documents/ktp": 0.5,
        "POST /v1/me/assessment": 0.3,
        "PUT /v1/me/assessment/answers/{question_id}": 3.0,
        "POST /v1/me/assessment/submit": 0.3,
        "GET /v1/batches": 0.5,
    })
    #: worker messages per HTTP request (worker label prefix -> (route key, messages per request))
    messages: dict[str, tuple[str, float]] = field(default_factory=lambda: {
        "EmailSenderFunction <- EmailQueue": ("POST /v1/accounts", 1.0),
        "NikWorkerFunction <- NikQueue": ("PUT /v1/me/biodata", 1.0),
        "KtpProcessFunction <- UploadQueue": ("POST /v1/me/documents/ktp", 1.0),
        "KtpVerdictFunction <- KtpVerdictQueue": ("POST /v1/me/documents/ktp", 1.0),
    })
    #: joins a second in the last minutes before a batch closes (a separate peak)
    joins_per_second_at_close: float = 1000.0
    #: the ministry's rate and SES's send rate (from template.yaml's defaults unless set)
    ministry_rate: float = 50.0
    ses_rate: float = 14.0
    #: applicants for the total (the first 21 hours of April 2020: 1,432,133 registered)
    applicants: int = 1_432_133


#: one applicant's whole way through (label -> times), for the cost: the launch mix's ratios plus
#: the later steps each applicant takes once (the join, a share of the draw's fan-out)
FUNNEL_EXTRA = {"POST /v1/batches/{batch_id}/participants": 0.5}


def _io_ms(calls: dict[str, float]) -> float:
    return sum(n * IO_MS.get(name.split(":")[0], 10.0) for name, n in calls.items())


def duration_ms(row: dict[str, Any], cpu: str = "p95") -> float:
    """Lambda duration of one invocation (ms): CPU scaled to arm64 at the memory + network waits."""
    share = min(1.0, row["memory_mb"] / LAMBDA_MB_PER_VCPU)
    wait = _io_ms(row["calls"]) + (MINISTRY_MS * row["records_per_invocation"]
                                    if row["function"] == "NikWorkerFunction" else 0.0)
    return row["cpu_ms"][cpu] * ARM64_CORE_FACTOR / share + wait


def _worker_row(measured: dict[str, Any], prefix: str) -> tuple[str, dict[str, Any]] | None:
    fn, _, queue = prefix.partition(" <- ")
    for label, row in measured.items():
        if label.startswith(fn + " <- ") and label.endswith(queue):
            return label, row
    return None


def _per_message(row: dict[str, Any]) -> dict[str, Any]:
    n = max(1.0, row["records_per_invocation"])
    return {
        **row,
        "calls": {k: v / n for k, v in row["calls"].items()},
        "dynamodb": {t: {p: {"rcu": u["rcu"] / n, "wcu": u["wcu"] / n} for p, u in ps.items()}
                     for t, ps in row["dynamodb"].items()},
        "cpu_ms": {k: v / n for k, v in row["cpu_ms"].items()},
        "log_bytes": row["log_bytes"] / n,
        "records_per_invocation": 1.0,
    }


def rates(measured: dict[str, Any], mix: Mix) -> dict[str, tuple[float, dict[str, Any]]]:
    """label -> (per second in the launch window, the row per request or per message)."""
    table = measured["measured"]
    out: dict[str, tuple[float, dict[str, Any]]] = {}
    for route, ratio in mix.per_signup.items():
        if route in table:
            out[route] = (mix.signups_per_second * ratio, table[route])
    for prefix, (route, per) in mix.messages.items():
        found = _worker_row(table, prefix)
        if found:
            arrival = mix.signups_per_second * mix.per_signup.get(route, 0.0) * per
            out[found[0]] = (min(arrival, worker_ceiling(measured, prefix, found[1], mix)), _per_message(found[1]))
    for label, row in table.items():
        if row["kind"] == "schedule" and "nothing" in label:
            out[label] = (1 / 60, row)
    return out


def arrivals(measured: dict[str, Any], mix: Mix) -> dict[str, float]:
    """Messages a second arriving on each worker's queue in the launch window."""
    return {prefix: mix.signups_per_second * mix.per_signup.get(route, 0.0) * per
            for prefix, (route, per) in mix.messages.items()}


def worker_ceiling(measured: dict[str, Any], prefix: str, row: dict[str, Any], mix: Mix) -> float:
    """Messages a second a queue's worker can take: SES's rate for the sender, the ministry's for
    the NIK worker, else its event source's MaximumConcurrency instances each at its duration."""
    fn = prefix.split(" <- ")[0]
    if fn == "EmailSenderFunction":
        return mix.ses_rate
    if fn == "NikWorkerFunction":
        return mix.ministry_rate
    source = measured.get("sources", {}).get(prefix, {})
    per_message_ms = duration_ms(_per_message(row))
    return source.get("max_concurrency", 1) * 1000 / per_message_ms if per_message_ms else math.inf


def _spread(pattern: str, spread: dict[str, int]) -> int | None:
    """Keys a pattern's writes spread over (None: one key per applicant, never hot)."""
    pk = pattern.split(" / ")[0]
    if "<id>" in pk or "<ip>" in pk:
        return None
    if pk.startswith("FUNNEL#"):
        return spread.get("FUNNEL#<step>#<shard>", 1)
    for known, n in spread.items():
        if pk == known or pk.startswith(known):
            return n
    return 1


def _quota(facts: dict[str, Any], key: str) -> dict[str, Any] | None:
    entry = (facts.get("quotas") or {}).get(key)
    return entry if entry and entry.get("value") is not None else None


def _price(facts: dict[str, Any], key: str) -> dict[str, Any] | None:
    entry = (facts.get("prices") or {}).get(key)
    return entry if entry and entry.get("value") is not None else None


def plan(measured: dict[str, Any], mix: Mix, facts: dict[str, Any]) -> dict[str, Any]:
    """The plan: per function, table, key, queue and service; see the module docstring."""
    per = rates(measured, mix)
    functions: dict[str, dict[str, float]] = defaultdict(lambda: {"rate": 0.0, "concurrency": 0.0})
    tables: dict[str, dict[str, float]] = defaultdict(lambda: {"wcu": 0.0, "rcu": 0.0})
    keys: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: {"wcu": 0.0, "rcu": 0.0})
    services: dict[str, float] = defaultdict(float)
    rows = []
    for label, (rate, row) in sorted(per.items()):
        d = duration_ms(row)
        f = functions[row["function"]]
        f["rate"] += rate
        f["concurrency"] += rate * d / 1000
        f["memory_mb"] = row["memory_mb"]
        rows.append({"label": label, "rate": rate, "duration_ms": d, "concurrency": rate * d / 1000})
        for name, n in row["calls"].items():
            services[name] += rate * n
        for t, patterns in row["dynamodb"].items():
            for p, u in patterns.items():
                tables[t]["wcu"] += rate * u["wcu"]
                tables[t]["rcu"] += rate * u["rcu"]
                keys[(t, p)]["wcu"] += rate * u["wcu"]
                keys[(t, p)]["rcu"] += rate * u["rcu"]
    hot = []
    for (t, p), u in keys.items():
        spread = _spread(p, measured.get("key_spread", {}))
        if spread is None:
            continue
        hot.append({"table": t, "pattern": p, "keys": spread, "wcu": u["wcu"] / spread, "rcu": u["rcu"] / spread})
    hot.sort(key=lambda h: -max(h["wcu"] / 1000, h["rcu"] / 3000))
    total_concurrency = sum(f["concurrency"] for f in functions.values())
    http_rate = sum(r for label, (r, _) in per.items() if " /" in label)
    # cache refreshes: one read per instance per cache age (and at each cold start)
    secrets_rate = sum(f["concurrency"] for fid, f in functions.items()
                       if "secretsmanager:GetSecretValue" in measured.get("cached_calls", {}).get(fid, {}))
    secrets_rate /= measured["cache_seconds"]["secretsmanager:GetSecretValue"]
    register = functions.get("RegisterFunction", {"concurrency": 0.0})
    ssm_rate = register["concurrency"] / max(1, measured["cache_seconds"]["ssm:GetParameter"])
    biodata = functions.get("BiodataFunction", {"concurrency": 0.0})
    kms_rate = biodata["concurrency"] / measured["cache_seconds"]["kms:GenerateDataKey"] + min(
        mix.ministry_rate, per.get(_label_of(per, "NikWorkerFunction"), (0.0, None))[0])
    arriving = arrivals(measured, mix)
    by = {"EmailSenderFunction": "SES send rate (SesSendRate)",
          "NikWorkerFunction": "ministry rate (MinistryRatePerSecond)"}
    queues = []
    for prefix, arrival in arriving.items():
        found = _worker_row(measured["measured"], prefix)
        if found:
            fn = prefix.split(" <- ")[0]
            queues.append(_queue(prefix.split(" <- ")[1], arrival, worker_ceiling(measured, prefix, found[1], mix),
                                 mix.window_seconds, by.get(fn, "MaximumConcurrency instances of " + fn)))
    join = _join_peak(measured, mix)
    return {"mix": mix, "rows": rows, "functions": dict(functions), "tables": dict(tables), "hot": hot,
            "services": dict(services), "total_concurrency": total_concurrency, "http_rate": http_rate,
            "secrets_rate": secrets_rate, "ssm_rate": ssm_rate, "kms_rate": kms_rate, "queues": queues,
            "join": join, "quotas": _quota_rows(facts, total_concurrency, http_rate, tables, hot, secrets_rate,
                                                ssm_rate, kms_rate, mix, functions, join),
            "cost": cost(measured, mix, facts), "facts": facts}


def _label_of(per: dict[str, Any], function_id: str) -> str:
    return next((label for label, (_, row) in per.items() if row["function"] == function_id), "")


def _queue(name: str, arrival: float, drain: float, window: float, by: str) -> dict[str, Any]:
    depth = max(0.0, (arrival - drain) * window)
    return {"queue": name, "arrival": arrival, "drain": drain, "by": by, "depth": depth,
            "drain_seconds": depth / drain if drain else math.inf,
            "rate_to_keep_up": arrival}


def _join_peak(measured: dict[str, Any], mix: Mix) -> dict[str, Any]:
    row = measured["measured"].get("POST /v1/batches/{batch_id}/participants")
    if not row:
        return {}
    spread = measured.get("key_spread", {})
    rate = mix.joins_per_second_at_close
    out: dict[str, Any] = {"rate": rate, "concurrency": rate * duration_ms(row) / 1000, "keys": []}
    for t, patterns in row["dynamodb"].items():
        for p, u in patterns.items():
            n = _spread(p, spread)
            if n is not None:
                out["keys"].append({"table": t, "pattern": p, "keys": n,
                                    "wcu": mix.joins_per_second_at_close * u["wcu"] / n,
                                    "rcu": mix.joins_per_second_at_close * u["rcu"] / n})
    return out


def _quota_rows(facts: dict[str, Any], concurrency: float, http_rate: float, tables: dict[str, Any],
                hot: list[dict[str, Any]], secrets_rate: float, ssm_rate: float, kms_rate: float, mix: Mix,
                functions: dict[str, Any], join: dict[str, Any]) -> list[dict[str, Any]]:
    max_wcu = max((t["wcu"] for t in tables.values()), default=0.0)
    max_rcu = max((t["rcu"] for t in tables.values()), default=0.0)
    hot_wcu = max([h["wcu"] for h in hot] + [k["wcu"] for k in join.get("keys", [])], default=0.0)
    hot_rcu = max([h["rcu"] for h in hot] + [k["rcu"] for k in join.get("keys", [])], default=0.0)
    biggest = max((f["concurrency"] for f in functions.values()), default=0.0)
    needs = [
        ("Lambda concurrent executions (account)", "lambda_concurrent_executions", concurrency, True),
        ("Lambda scaling: new instances per function per 10 s", "lambda_scaling_rate", biggest, False),
        ("API Gateway requests/s (account)", "apigw_http_throttle_rate", http_rate, True),
        ("API Gateway burst (account)", "apigw_http_throttle_burst", http_rate / 2, True),
        ("DynamoDB WCU/s on the busiest table (on demand)", "dynamodb_table_ondemand_max_wcu", max_wcu, True),
        ("DynamoDB RCU/s on the busiest table (on demand)", "dynamodb_table_ondemand_max_rcu", max_rcu, True),
        ("DynamoDB WCU/s a new on-demand table serves at once", "dynamodb_ondemand_new_table_initial_wcu", max_wcu,
         True),
        ("DynamoDB RCU/s a new on-demand table serves at once", "dynamodb_ondemand_new_table_initial_rcu", max_rcu,
         True),
        ("DynamoDB WCU/s on the hottest key (per partition)", "dynamodb_partition_wcu", hot_wcu, False),
        ("DynamoDB RCU/s on the hottest key (per partition)", "dynamodb_partition_rcu", hot_rcu, False),
        ("KMS symmetric requests/s", "kms_symmetric_request_rate", kms_rate, True),
        ("Secrets Manager GetSecretValue/s", "secrets_manager_get_secret_value_rate", secrets_rate, True),
        ("SSM GetParameter/s (standard throughput)", "ssm_get_parameter_rate", ssm_rate, True),
        ("SES sending rate (emails/s) to keep up with sign-ups", "ses_sending_rate_default",
         mix.signups_per_second, True),
    ]
    out = []
    for what, key, need, adjustable_need in needs:
        q = _quota(facts, key)
        value = q["value"] if q else None
        must = value is not None and need > value and key != "lambda_scaling_rate"
        out.append({"what": what, "key": key, "need": need, "quota": value, "source": (q or {}).get("source"),
                    "must_raise": must, "raise_to": _round_up(need * HEADROOM) if must and adjustable_need else None,
                    "sourced": q is not None})
    return out


#: head-room of a route's throttle over its launch-day rate in the mix
ROUTE_LIMIT_HEADROOM = 1.1
#: routes with a throttle of their own in template.yaml (route key -> parameter prefix); every other
#: route has the ``DefaultRoute`` bucket each
OWN_THROTTLES = {"POST /v1/accounts": "SignUp", "POST /v1/sessions": "SignIn", "GET /v1/me": "Status"}


def route_limits(mix: Mix) -> dict[str, int]:
    """The HTTP API's throttle parameters (template.yaml name -> requests per second, or requests
    at once for a burst), sized from the mix: a route's rate is its launch-day rate x
    ``ROUTE_LIMIT_HEADROOM``, rounded up to two significant digits; ``DefaultRoute`` is the busiest
    route without a bucket of its own; each burst is half a second's worth. template.yaml's defaults
    are these (tests/unit/test_capacity_plan.py checks it), so re-sizing is: change the mix, run
    ``make capacity``, copy the printed figures into the template."""
    rate = {route: mix.signups_per_second * ratio for route, ratio in mix.per_signup.items()}
    out: dict[str, int] = {}
    for route, prefix in OWN_THROTTLES.items():
        out[f"{prefix}RateLimit"] = _round_up(rate.get(route, 0.0) * ROUTE_LIMIT_HEADROOM) or 1
    others = max((r for route, r in rate.items() if route not in OWN_THROTTLES), default=0.0)
    out["DefaultRouteRateLimit"] = _round_up(others * ROUTE_LIMIT_HEADROOM) or 1
    for prefix in [*OWN_THROTTLES.values(), "DefaultRoute"]:
        out[f"{prefix}BurstLimit"] = max(1, _round_up(out[f"{prefix}RateLimit"] / 2))
    return out


def _round_up(x: float) -> int:
    if x <= 0:
        return 0
    step = 10 ** max(0, int(math.log10(x)) - 1)
    return int(math.ceil(x / step) * step)


# --------------------------------------------------------------------------- cost
def _add_quantities(q: dict[str, float], row: dict[str, Any], times: float, invocations: float) -> None:
    """Add ``times`` requests (``invocations`` Lambda invocations) of ``row`` to the quantities ``q``."""
    d = duration_ms(row, "mean")
    q["lambda_gb_seconds"] += times * d / 1000 * row["memory_mb"] / 1024
    q["lambda_requests"] += invocations
    q["log_bytes"] += times * row["log_bytes"] + invocations * LAMBDA_PLATFORM_LOG_BYTES
    for _t, patterns in row["dynamodb"].items():
        for u in patterns.values():
            q["dynamodb_wru"] += times * u["wcu"]
            q["dynamodb_rru"] += times * u["rcu"]
    for name, n in row["calls"].items():
        service, _, op = name.partition(":")
        if service == "s3":
            q["s3_put" if op in {"PutObject", "ListObjectVersions", "CopyObject"} else "s3_get"] += times * n
        elif service in {"sesv2", "ses"} and op == "SendEmail":
            q["emails"] += times * n
        elif service == "kms":
            q["kms_requests"] += times * n



def per_applicant(measured: dict[str, Any], mix: Mix) -> dict[str, float]:
    """Quantities one applicant costs on the way through (per applicant, exact from the table)."""
    table = measured["measured"]
    counts = dict(mix.per_signup) | {k: v for k, v in FUNNEL_EXTRA.items() if k not in mix.per_signup}
    q: dict[str, float] = defaultdict(float)

    for route, times in counts.items():
        if route in table:
            _add_quantities(q, table[route], times, times)
            q["api_requests"] += times
    for prefix, (route, messages) in mix.messages.items():
        found = _worker_row(table, prefix)
        if found:
            times = counts.get(route, 0.0) * messages
            row = _per_message(found[1])
            batch = max(1.0, found[1]["records_per_invocation"])
            _add_quantities(q, row, times, times / batch)
            q["sqs_requests"] += times * SQS_REQUESTS_PER_MESSAGE
    q["s3_put"] += counts.get("POST /v1/me/documents/ktp", 0.0)  # the browser's presigned POST
    q["kms_requests"] += counts.get("PUT /v1/me/biodata", 0.0)  # NikWorker's Decrypt (upper bound)
    q["waf_requests"] = q["api_requests"]
    return dict(q)


_COST_LINES = [  # (quantity, price key, units per price unit, what)
    ("lambda_gb_seconds", "lambda_arm_gb_second", 1, "Lambda GB-seconds (arm64)"),
    ("lambda_requests", "lambda_requests_per_million", 1e6, "Lambda requests"),
    ("api_requests", "apigw_http_per_million", 1e6, "API Gateway HTTP API requests"),
    ("dynamodb_wru", "dynamodb_ondemand_write_per_million", 1e6, "DynamoDB write request units"),
    ("dynamodb_rru", "dynamodb_ondemand_read_per_million", 1e6, "DynamoDB read request units"),
    ("sqs_requests", "sqs_standard_per_million", 1e6, "SQS requests"),
    ("s3_put", "s3_put_per_thousand", 1e3, "S3 PUT/POST/LIST requests"),
    ("s3_get", "s3_get_per_thousand", 1e3, "S3 GET requests"),
    ("kms_requests", "kms_per_10k_requests", 1e4, "KMS requests"),
    ("emails", "ses_per_thousand_emails", 1e3, "SES emails"),
    ("log_gb", "cloudwatch_logs_ingest_per_gb", 1, "CloudWatch Logs ingestion (GB)"),
    ("waf_requests", "waf_per_million_requests", 1e6, "WAF requests inspected"),
]


def cost(measured: dict[str, Any], mix: Mix, facts: dict[str, Any]) -> dict[str, Any]:
    """Cost per applicant and for ``mix.applicants``: each line quantity x list price, or "not
    sourced" when the facts have no price (never a made-up figure)."""
    q = per_applicant(measured, mix)
    q["log_gb"] = q.get("log_bytes", 0.0) / 1e9
    lines, total, missing = [], 0.0, []
    for quantity, key, unit, what in _COST_LINES:
        price = _price(facts, key)
        amount = q.get(quantity, 0.0)
        usd = amount / unit * price["value"] if price else None
        if usd is None:
            missing.append(what)
        else:
            total += usd
        lines.append({"what": what, "quantity": amount, "price_key": key, "unit": unit,
                      "price": price["value"] if price else None, "source": price.get("source") if price else None,
                      "fallback_region": price.get("fallback_region") if price else None, "usd": usd})
    return {"lines": lines, "sourced_total": total, "missing": missing, "applicants": mix.applicants}


def with_measured(measured: dict[str, Any], label: str, **changes: Any) -> dict[str, Any]:
    """A copy of the measured table with one row's figures changed (for what-if and tests):
    ``cpu_ms`` (all statistics), ``wcu`` (added to the row's first DynamoDB pattern)."""
    import copy

    out = copy.deepcopy(measured)
    row = out["measured"][label]
    if "cpu_ms" in changes:
        row["cpu_ms"] = dict.fromkeys(row["cpu_ms"], changes["cpu_ms"])
    if "wcu" in changes:
        t = next(iter(row["dynamodb"]))
        p = next(iter(row["dynamodb"][t]))
        row["dynamodb"][t][p]["wcu"] += changes["wcu"]
    return out


__all__ = ["Mix", "plan", "cost", "per_applicant", "duration_ms", "with_measured", "replace"]
