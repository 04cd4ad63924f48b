"""Read ``template.yaml`` (the single source of truth) for the local stack.

A YAML loader that understands CloudFormation short tags (``!Ref``, ``!GetAtt``, ``!Sub`` ...),
views of the template (functions, HTTP API routes, SQS event sources, schedules) and a resolver
of intrinsic functions against the physical values the local provisioning created.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "ap-southeast-3"
ACCOUNT_ID = "123456789012"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

_RATE_RE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_SUB_RE = re.compile(r"\$\{([^}]+)\}")


class TemplateError(ValueError):
    """The template uses something the local stack cannot reproduce."""


class CfnLoader(yaml.SafeLoader):
    """A safe YAML loader that turns CloudFormation short tags into their long form."""


def _construct_short_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_short_tag)


def load_yaml(path: Path | str) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML file (short tags understood) into plain Python data."""
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a ``rate(N unit)`` expression; ``None`` for anything else (cron)."""
    match = _RATE_RE.fullmatch(expression.strip())
    if not match:
        return None
    return int(match.group(1)) * _RATE_UNITS[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class Function:
    """One ``AWS::Serverless::Function`` with the Globals applied."""

    logical_id: str
    code_uri: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]
    events: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Route:
    """An HTTP API route: ``method`` (upper case or ``ANY``) and ``path`` (``{param}`` allowed)."""

    method: str
    path: str
    function_id: str

    @property
    def route_key(self) -> str:
        """The API Gateway route key, e.g. ``POST /v1/accounts`` (or ``$default``)."""
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    """An SQS event source of a function."""

    function_id: str
    event_name: str
    queue_id: str
    batch_size: int
    max_concurrency: int
    response_types: tuple[str, ...]

    @property
    def reports_failures(self) -> bool:
        """Whether the function returns a partial batch response."""
        return "ReportBatchItemFailures" in self.response_types


@dataclass(frozen=True)
class Throttle:
    """A route's token bucket: ``rate`` requests per second refill it, ``burst`` is its size."""

    rate: float
    burst: int


DEFAULT_ROUTE = "*"  # the key of DefaultRouteSettings in ``Template.route_throttles``


@dataclass(frozen=True)
class Schedule:
    """A ``Schedule`` event: ``seconds`` is ``None`` for expressions other than ``rate(...)``."""

    function_id: str
    event_name: str
    expression: str
    seconds: int | None
    rule_name: str
    event_input: str | None = None


class Template:
    """A loaded template with views the local stack needs."""

    def __init__(self, document: dict[str, Any], path: Path | None = None) -> None:
        self.document = document
        self.path = path
        self.root = path.parent if path else REPO_ROOT

    @classmethod
    def load(cls, path: Path | str | None = None) -> Template:
        """Load ``path`` (default: ``template.yaml`` at the repository root)."""
        resolved = Path(path) if path else DEFAULT_TEMPLATE
        return cls(load_yaml(resolved), resolved)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        """All resources by logical id."""
        return self.document.get("Resources", {})

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one type, by logical id, in template order."""
        return {rid: res for rid, res in self.resources.items() if res.get("Type") == resource_type}

    def parameter_defaults(self) -> dict[str, str]:
        """Each parameter's default value (as a string), or ``""`` when it has none."""
        params = self.document.get("Parameters", {})
        return {name: str(spec.get("Default", "")) for name, spec in params.items()}

    def _function_globals(self) -> dict[str, Any]:
        return self.document.get("Globals", {}).get("Function", {})

    def functions(self) -> dict[str, Function]:
        """Every serverless function by logical id, Globals merged into its properties."""
        glob = self._function_globals()
        glob_env = glob.get("Environment", {}).get("Variables", {})
        result = {}
        for rid, res in self.resources_of_type("AWS::Serverless::Function").items():
            props = res.get("Properties", {})
            env = {**glob_env, **props.get("Environment", {}).get("Variables", {})}
            result[rid] = Function(
                logical_id=rid,
                code_uri=props.get("CodeUri", glob.get("CodeUri", ".")),
                handler=props.get("Handler", glob.get("Handler", "app.handler")),
                timeout=int(props.get("Timeout", glob.get("Timeout", 3))),
                memory_size=int(props.get("MemorySize", glob.get("MemorySize", 128))),
                environment=env,
                events=props.get("Events", {}) or {},
            )
        return result

    def _events_of_type(self, *types: str) -> list[tuple[str, str, dict[str, Any]]]:
        found = []
        for fid, fn in self.functions().items():
            for name, event in fn.events.items():
                if event.get("Type") in types:
                    found.append((fid, name, event.get("Properties", {}) or {}))
        return found

    def routes(self) -> list[Route]:
        """HTTP API routes; an event without ``Path`` is the ``$default`` route."""
        return [
            Route(str(props.get("Method", "ANY")).upper(), props.get("Path", "$default"), fid)
            for fid, _name, props in self._events_of_type("HttpApi")
        ]

    def route_throttles(self) -> dict[str, Throttle]:
        """The HTTP API's throttles by route key (``DEFAULT_ROUTE`` for ``DefaultRouteSettings``,
        which every route without its own entry gets), parameters resolved to their defaults. An
        entry without both a rate and a burst is left out (its route gets the default's)."""
        defaults = self.parameter_defaults()

        def number(value: Any) -> float | None:
            if isinstance(value, dict) and "Ref" in value:
                value = defaults.get(value["Ref"], "")
            try:
                return float(value)
            except (TypeError, ValueError):
                return None

        def throttle(settings: Any) -> Throttle | None:
            settings = settings or {}
            rate = number(settings.get("ThrottlingRateLimit"))
            burst = number(settings.get("ThrottlingBurstLimit"))
            return None if rate is None or burst is None else Throttle(rate, int(burst))

        result: dict[str, Throttle] = {}
        for api in self.resources_of_type("AWS::Serverless::HttpApi").values():
            props = api.get("Properties", {}) or {}
            found = throttle(props.get("DefaultRouteSettings"))
            if found:
                result[DEFAULT_ROUTE] = found
            for key, settings in (props.get("RouteSettings") or {}).items():
                found = throttle(settings)
                if found:
                    result[key] = found
        return result

    def web_security_headers(self) -> dict[str, Any]:
        """The ``SecurityHeadersConfig`` of the site's CloudFront response-headers policy (the one
        ``AWS::CloudFront::ResponseHeadersPolicy`` in the template), unresolved; ``{}`` if none.
        The local stack sends the same headers with its static files (``gateway.security_headers``)."""
        for policy in self.resources_of_type("AWS::CloudFront::ResponseHeadersPolicy").values():
            config = (policy.get("Properties", {}) or {}).get("ResponseHeadersPolicyConfig", {}) or {}
            return dict(config.get("SecurityHeadersConfig", {}) or {})
        return {}

    def sqs_sources(self) -> list[SqsSource]:
        """SQS event sources (the queue must be given as ``!GetAtt Queue.Arn``)."""
        sources = []
        for fid, name, props in self._events_of_type("SQS"):
            queue = props.get("Queue")
            if not (isinstance(queue, dict) and "Fn::GetAtt" in queue):
                raise TemplateError(f"{fid}.{name}: Queue must be !GetAtt <Queue>.Arn")
            scaling = props.get("ScalingConfig", {}) or {}
            sources.append(
                SqsSource(
                    function_id=fid,
                    event_name=name,
                    queue_id=queue["Fn::GetAtt"][0],
                    batch_size=int(props.get("BatchSize", 10)),
                    max_concurrency=int(scaling.get("MaximumConcurrency", 2)),
                    response_types=tuple(props.get("FunctionResponseTypes", []) or []),
                )
            )
        return sources

    def schedules(self, name_prefix: str = "prakerja-local") -> list[Schedule]:
        """Enabled ``Schedule``/``ScheduleV2`` events with their period in seconds."""
        result = []
        for fid, name, props in self._events_of_type("Schedule", "ScheduleV2"):
            if props.get("Enabled") is False or props.get("State") == "DISABLED":
                continue
            expression = str(props.get("Schedule") or props.get("ScheduleExpression", ""))
            result.append(
                Schedule(
                    function_id=fid,
                    event_name=name,
                    expression=expression,
                    seconds=rate_seconds(expression),
                    rule_name=f"{name_prefix}-{fid}-{name}",
                    event_input=props.get("Input"),
                )
            )
        return result


_PSEUDO = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NotificationARNs": "",
}

NO_VALUE = object()


class Resolver:
    """Resolves intrinsic functions against physical values.

    ``physical`` maps a logical id to its attributes: ``{"Ref": ..., "Arn": ..., ...}``;
    ``parameters`` maps a parameter name to its (local) value.
    """

    def __init__(
        self,
        physical: Mapping[str, Mapping[str, str]],
        parameters: Mapping[str, str],
        stack_name: str = "prakerja-local",
    ) -> None:
        self.physical = physical
        self.parameters = parameters
        self.pseudo = {**_PSEUDO, "AWS::StackName": stack_name, "AWS::StackId": stack_name}
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda v: str(self.resolve(v[0])).join(str(x) for x in self.resolve(v[1])),
            "Fn::Select": lambda v: self.resolve(v[1])[int(self.resolve(v[0]))],
            "Fn::Split": lambda v: str(self.resolve(v[1])).split(str(self.resolve(v[0]))),
            "Fn::ToJsonString": lambda v: json.dumps(self.resolve(v)),
        }

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic in ``value`` (recursively); plain values are returned as is."""
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            if key in self._functions:
                return self._functions[key](arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"intrinsic {key} is not supported locally")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]["Ref"]
        raise TemplateError(f"Ref {name}: no such parameter or provisioned resource")

    def _get_att(self, arg: list[str] | str) -> Any:
        logical, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
        try:
            return self.physical[logical][attribute]
        except KeyError:
            raise TemplateError(f"GetAtt {logical}.{attribute}: not provisioned locally") from None

    def _sub_var(self, variables: Mapping[str, Any], name: str) -> str:
        if name.startswith("!"):
            return "${" + name[1:] + "}"
        if name in variables:
            return str(variables[name])
        if "." in name and name.split(".", 1)[0] in self.physical:
            return str(self._get_att(name))
        return str(self._ref(name))

    def _sub(self, arg: str | list[Any]) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        return _SUB_RE.sub(lambda m: self._sub_var(variables, m.group(1)), text)
