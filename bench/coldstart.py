"""Cold start of every function: the import and module-scope init of its handler. Not a test.

Usage: ``python bench/coldstart.py [--runs N] [--functions Id,Id]`` (``make bench-coldstart``).

What a Lambda cold start costs in Python code is the import of the handler module (``CodeUri`` +
``Handler`` in template.yaml): every module it pulls in and everything it does at module scope
(settings, clients, FastAPI routes, pydantic models). Each measurement is one fresh interpreter that
sets ``sys.path`` as Lambda does (the function's directory, then ``src/``, the layer), imports the
handler module and takes the handler attribute, timing only that import in the process itself
(the interpreter's start is not in it; its empty start is printed for reference). Both its CPU
time (user + system) and its wall time are printed; the ratios use CPU time, which does not grow
when other processes share the machine's cores (wall time on a loaded 2-core machine doubles
from one run to the next; CPU time moves by about a tenth).
``.pyc`` files are compiled first (``compileall``), as in a deployment package, and one untimed
warm-up round fills the file cache.

The environment is a Lambda's: the function's variables from template.yaml (resolved to
placeholder names), ``LAMBDA_TASK_ROOT``, ``AWS_LAMBDA_FUNCTION_NAME`` (so Powertools behaves as
on Lambda: a Tracer is enabled), region and dummy credentials. Sockets are blocked in the measured
process: a function that calls the network at import fails the benchmark (that is a finding).

The same run measures the naive baseline ``bench/naive_baseline.py`` (FastAPI + Mangum +
Powertools Tracer, Logger, Metrics + a boto3 DynamoDB resource at import) in the same virtualenv,
each round in a shuffled order of functions and baseline so the machine's noise hits all alike;
every figure is the median over the rounds, and each function's ratio to the baseline (median
CPU seconds over median CPU seconds) is what means the same on a slow 2-core machine and a fast
one. The goal: every HTTP function at or below 0.5x the baseline.

A second reference, ``bench/framework_only.py`` (a FastAPI app behind Mangum and nothing else),
shows what every HTTP function pays for its framework alone.

The last line is machine-readable, over the HTTP functions (the goal's subject):
``coldstart: worst_ratio=<largest ratio> median_ratio=<median ratio>``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BENCH = ROOT / "bench"
REGION = "ap-southeast-3"
GOAL_RATIO = 0.5
#: modules reported when a function imports them (the costly ones; see the README's figures)
HEAVY = ("PIL", "pillow_heif", "argon2", "cryptography", "aws_xray_sdk", "httpx", "jwt", "email_validator")
BASELINE = "baseline"
FRAMEWORK = "framework"

# Runs in the fresh interpreter: argv = code_dir, src_dir, module, attribute. Prints one JSON line.
_CHILD = r"""
import sys, time, socket
calls = []
def _blocked(*args, **kwargs):
    calls.append(repr(args[1:2]))
    raise OSError("network call during a cold start (blocked by bench/coldstart.py)")
socket.socket.connect = socket.socket.connect_ex = _blocked
socket.create_connection = socket.getaddrinfo = _blocked
code_dir, src_dir, module, attribute = sys.argv[1:5]
sys.path[:] = [code_dir, src_dir] + [p for p in sys.path if p not in ("", code_dir, src_dir)]
started, cpu_started = time.perf_counter(), time.process_time()
handler = getattr(__import__(module), attribute)
seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
import json, resource
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[5].split(",")))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "modules": len(sys.modules), "heavy": heavy,
                  "network": calls, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "callable": callable(handler)}))
"""


@dataclass(frozen=True)
class Target:
    """One thing to measure: a function of the template, or the baseline."""

    name: str
    kind: str  # http, sqs, schedule, baseline or reference
    code_dir: Path
    module: str
    attribute: str
    environment: dict[str, str]


def _placeholder_physical(template) -> dict[str, dict[str, str]]:
    """Made-up physical values for every resource (no AWS call is made at import)."""

    class Attributes(dict):
        def __init__(self, rid: str, rtype: str) -> None:
            name = f"prakerja-bench-{rid}"
            service = rtype.split("::")[1].lower() if "::" in rtype else "cloudformation"
            arn = f"arn:aws:{service}:{REGION}:123456789012:{name}"
            ref = f"https://sqs.{REGION}.amazonaws.com/123456789012/{name}" if rtype == "AWS::SQS::Queue" else name
            super().__init__(Ref=ref, Arn=arn, QueueName=name, QueueUrl=ref)
            self.name = name

        def __missing__(self, attribute: str) -> str:
            return f"{self.name}-{attribute}"

    return {rid: Attributes(rid, res.get("Type", "")) for rid, res in template.resources.items()}


def _lambda_environment(name: str, code_dir: Path, handler: str, memory_mb: int, own: dict[str, str]) -> dict[str, str]:
    """The variables a Lambda runtime sets, with ``own`` (the template's) on top; nothing from here."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8", "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code_dir), "_HANDLER": handler, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": f"prakerja-bench-{name}", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb), "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "AKIABENCHCOLDSTART00", "AWS_SECRET_ACCESS_KEY": "bench-coldstart-dummy-secret",
        "AWS_SESSION_TOKEN": "bench-coldstart-dummy-token", "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "PYTHONDONTWRITEBYTECODE": "1", **own,
    }


def targets(only: list[str] | None = None) -> list[Target]:
    """The baseline, the framework reference and every function of template.yaml (or the logical
    ids in ``only``)."""
    sys.path[:0] = [p for p in (str(ROOT / "local"), str(SRC)) if p not in sys.path]
    from prakerja_local.provision import LOCAL_PARAMETERS, Resources, resolved_environments
    from prakerja_local.template import Template

    template = Template.load(ROOT / "template.yaml")
    functions = template.functions()
    unknown = sorted(set(only or ()) - set(functions))
    if unknown:
        sys.exit(f"no such function in template.yaml: {', '.join(unknown)}")
    defaults = template.parameter_defaults()
    # deploy parameters without a default (MinistryUrl, PublicBaseUrl) get the local stack's values
    local = {k: v for k, v in LOCAL_PARAMETERS.items() if not defaults.get(k)}
    resources = Resources(physical=_placeholder_physical(template), parameters={**defaults, **local},
                          stack_name="prakerja-bench")
    environments = resolved_environments(template, resources)
    kinds = {route.function_id: "http" for route in template.routes()}
    for source in template.sqs_sources():
        kinds.setdefault(source.function_id, "sqs")
    for schedule in template.schedules():
        kinds.setdefault(schedule.function_id, "schedule")
    found = []
    for fid, fn in functions.items():
        if only and fid not in only:
            continue
        module, _, attribute = fn.handler.rpartition(".")
        code_dir = (ROOT / fn.code_uri).resolve()
        env = _lambda_environment(fid, code_dir, fn.handler, fn.memory_size, environments[fid])
        found.append(Target(fid, kinds.get(fid, "other"), code_dir, module, attribute, env))
    register = environments.get("RegisterFunction") or next(iter(environments.values()))
    base_env = _lambda_environment(BASELINE, BENCH, "naive_baseline.handler", 512,
                                   {**register, "POWERTOOLS_SERVICE_NAME": BASELINE})
    framework_env = {**base_env, "POWERTOOLS_SERVICE_NAME": FRAMEWORK}
    return [Target(BASELINE, BASELINE, BENCH, "naive_baseline", "handler", base_env),
            Target(FRAMEWORK, "reference", BENCH, "framework_only", "handler", framework_env), *found]


def measure(target: Target) -> dict:
    """One cold start of ``target`` in a fresh interpreter: the child's JSON (seconds, heavy, ...).

    Exits the benchmark with the child's error if the import fails or touched the network."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(target.code_dir), str(SRC), target.module, target.attribute,
         ",".join(HEAVY)],
        cwd=target.code_dir, env=target.environment, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{target.name}: the import failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["network"]:
        sys.exit(f"{target.name}: network calls during the import: {result['network']}")
    return result


def empty_start() -> float:
    """Wall seconds of ``python -c pass`` (spawn to exit), for reference."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env={"PATH": os.environ.get("PATH", "")})
    return time.perf_counter() - started


def run(found: list[Target], runs: int, seed: int = 12) -> tuple[dict[str, list[dict]], list[float]]:
    """``runs`` rounds (after one untimed warm-up), each in a shuffled order; samples per target."""
    for directory in (SRC, ROOT / "functions", BENCH):
        compileall.compile_dir(str(directory), quiet=1)
    order = random.Random(seed)
    samples: dict[str, list[dict]] = {t.name: [] for t in found}
    empty: list[float] = []
    for round_no in range(runs + 1):
        jobs: list[Target | None] = [*found, None]
        order.shuffle(jobs)
        for job in jobs:
            if job is None:
                seconds = empty_start()
                if round_no:
                    empty.append(seconds)
                continue
            result = measure(job)
            if round_no:
                samples[job.name].append(result)
    return samples, empty


def report(found: list[Target], samples: dict[str, list[dict]], empty: list[float], runs: int) -> str:
    """Print the table; return the machine-readable last line (ratios of the median CPU seconds)."""
    cpu = {name: statistics.median(s["cpu_seconds"] for s in got) for name, got in samples.items()}
    wall = {name: statistics.median(s["seconds"] for s in got) for name, got in samples.items()}
    base = cpu[BASELINE]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"cold start: import + module-scope init of each handler, fresh process, .pyc present; median of {runs} "
          f"run(s), shuffled order per run")
    print(f"Python {platform.python_version()} ({sys.executable}), {cpus} CPU(s) available, load average "
          f"{os.getloadavg()[0]:.2f}; empty interpreter start {statistics.median(empty):.3f} s wall (not included)")
    print(f"baseline bench/naive_baseline.py (FastAPI + Mangum + Powertools Tracer/Logger/Metrics + boto3 "
          f"DynamoDB resource): {base:.3f} s CPU, {wall[BASELINE]:.3f} s wall")
    print()
    print(f"{'function':24} {'handler':40} {'kind':8} {'CPU s':>6} {'wall s':>6} {'ratio':>5} {'RSS MB':>6}  "
          "heavy modules imported")
    http_ratios = []
    for target in found:
        got = samples[target.name]
        ratio = cpu[target.name] / base
        if target.kind == "http":
            http_ratios.append(ratio)
        mark = "  (over the goal)" if target.kind == "http" and ratio > GOAL_RATIO else ""
        handler = f"{target.code_dir.relative_to(ROOT)}/{target.module}.{target.attribute}"
        print(f"{target.name:24} {handler:40} {target.kind:8} {cpu[target.name]:>6.3f} {wall[target.name]:>6.3f} "
              f"{ratio:>5.2f} {max(s['rss_mb'] for s in got):>6.0f}  {', '.join(got[0]['heavy']) or '-'}{mark}")
    print("CPU s / wall s: median CPU time (user + system) / wall time of the import in its own process;")
    print("ratio: CPU s / the baseline's CPU s (CPU time does not grow when other processes share the machine).")
    print()
    if not http_ratios:
        return "coldstart: worst_ratio=nan median_ratio=nan"
    worst, middle = max(http_ratios), statistics.median(http_ratios)
    print(f"HTTP functions ({len(http_ratios)}): worst {worst:.2f}x, median {middle:.2f}x the baseline "
          f"(goal <= {GOAL_RATIO}x: {'met' if worst <= GOAL_RATIO else 'NOT met'})")
    return f"coldstart: worst_ratio={worst:.2f} median_ratio={middle:.2f}"


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, measure, print the table and the last line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="measured rounds (default 7)")
    parser.add_argument("--functions", default="", help="comma-separated logical ids (default: every function)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    only = [f.strip() for f in args.functions.split(",") if f.strip()] or None
    found = targets(only)
    samples, empty = run(found, args.runs)
    print(report(found, samples, empty, args.runs))


if __name__ == "__main__":
    main()
