"""Load and invoke the real Lambda handlers in this process.

Each function's handler file (``CodeUri`` + ``Handler``, e.g. ``functions/register/`` +
``app.handler``) is imported lazily, on first use, under a unique module name (every function
has an ``app.py``). During the import the function's directory is first on ``sys.path`` (so
sibling imports work) and its environment is applied to ``os.environ``: the variables shared by
every function (the Globals) stay set for the life of the process, the function's own ones
(``POWERTOOLS_SERVICE_NAME``) only while it imports. Sibling modules a handler imports are
removed from ``sys.modules`` afterwards, so another function's same-named sibling is its own.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from prakerja_local.template import ACCOUNT_ID, REGION, Function, Template

log = logging.getLogger("prakerja_local.functions")
_IMPORT_LOCK = threading.RLock()
_thread_state = threading.local()


def ensure_event_loop() -> None:
    """Give this thread an asyncio event loop (Mangum calls ``asyncio.get_event_loop()``)."""
    if getattr(_thread_state, "loop_ready", False):
        return
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if loop.is_closed():
            raise RuntimeError("closed loop")
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    _thread_state.loop_ready = True


@dataclass
class LambdaContext:
    """A fake Lambda context object with the attributes handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        """The CloudWatch log group the function would write to."""
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        """A log stream name."""
        return f"local/[$LATEST]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the function's ``Timeout``."""
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def _module_file(root: Path, fn: Function) -> tuple[Path, str]:
    module_path, _, attribute = fn.handler.rpartition(".")
    code_dir = (root / fn.code_uri).resolve()
    return code_dir / (module_path.replace(".", "/") + ".py"), attribute


def common_environment(environments: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The variables every function has with the same value (the resolved Globals)."""
    envs = list(environments.values())
    if not envs:
        return {}
    return {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])}


class _TemporaryEnviron:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _import_handler_module(name: str, path: Path, env: Mapping[str, str]) -> ModuleType:
    code_dir = str(path.parent)
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, code_dir)
    try:
        with _TemporaryEnviron(env):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(code_dir)
        _forget_siblings(before, code_dir)
    return module


def _forget_siblings(before: set[str], code_dir: str) -> None:
    for mod_name in set(sys.modules) - before:
        mod_file = getattr(sys.modules[mod_name], "__file__", None) or ""
        if mod_file.startswith(code_dir + os.sep) and not mod_name.startswith("prakerja_fn_"):
            sys.modules.pop(mod_name, None)


class FunctionRegistry:
    """The template's functions, loaded lazily and invoked in-process."""

    def __init__(
        self,
        template: Template,
        environments: Mapping[str, Mapping[str, str]],
        name_prefix: str = "prakerja-local",
    ) -> None:
        self.template = template
        self.functions = template.functions()
        self.environments = {k: dict(v) for k, v in environments.items()}
        self.name_prefix = name_prefix
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self.invocations: dict[str, int] = {}

    def shared_environment(self) -> dict[str, str]:
        """The variables every function has (the resolved Globals): the stack sets them in
        ``os.environ`` for the life of the process."""
        return common_environment(self.environments)

    def handler(self, function_id: str) -> Callable[[Any, Any], Any]:
        """The function's handler, importing it on first use (its cold start)."""
        found = self._handlers.get(function_id)
        if found is not None:
            return found
        with _IMPORT_LOCK:
            if function_id not in self._handlers:
                self._handlers[function_id] = self._load(function_id)
        return self._handlers[function_id]

    def module(self, function_id: str) -> ModuleType:
        """The function's handler module, imported on first use (e.g. to read a FastAPI ``app``)."""
        self.handler(function_id)
        path, _ = _module_file(self.template.root, self.functions[function_id])
        return sys.modules[f"prakerja_fn_{function_id}_{path.stem}"]

    def _load(self, function_id: str) -> Callable[[Any, Any], Any]:
        fn = self.functions[function_id]
        path, attribute = _module_file(self.template.root, fn)
        common = common_environment(self.environments)
        own = {k: v for k, v in self.environments.get(function_id, {}).items() if common.get(k) != v}
        module_name = f"prakerja_fn_{function_id}_{path.stem}"
        ensure_event_loop()
        started = time.monotonic()
        module = _import_handler_module(module_name, path, own)
        log.info("cold start %s (%s) in %.0f ms", function_id, fn.handler, (time.monotonic() - started) * 1000)
        return getattr(module, attribute)

    def context(self, function_id: str) -> LambdaContext:
        """A fresh Lambda context for one invocation of ``function_id``."""
        fn = self.functions[function_id]
        return LambdaContext(f"{self.name_prefix}-{function_id}", fn.memory_size, fn.timeout)

    def invoke(self, function_id: str, event: Any) -> Any:
        """Invoke ``function_id`` with ``event`` in this thread and return its result."""
        handler = self.handler(function_id)
        ensure_event_loop()
        self.invocations[function_id] = self.invocations.get(function_id, 0) + 1
        return handler(event, self.context(function_id))
