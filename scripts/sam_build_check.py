#!/usr/bin/env python3
"""Build every function and the layer with ``sam build --cached --parallel`` for arm64, then check
the output: every function/layer has its build dir and every compiled library is aarch64.

Usage: scripts/sam_build_check.py [LogicalId ...]      (no ids: the whole template)

- The sam CLI comes from the sam virtualenv: ``$PRAKERJA_SAM_VENV`` or, when unset,
  ``scripts/venv.sh sam requirements/sam.lock``.
- Everything sam writes stays outside the clone, under ``${PRAKERJA_CACHE:-~/.cache/prakerja}``:
  ``sam-build/`` (artifacts; sam puts ``build.toml`` next to it), ``sam-cache/`` (``--cached``) and
  ``sam-work/.aws-sam/deps`` (sam's dependency cache, which sam places relative to its working
  directory, so sam runs from ``sam-work/``).
- Runtime python3.12 needs a *working* ``python3.12`` (a pyenv shim can exist without one): it is
  found by running ``python3.12 -c ''`` as is, then with ``PYENV_VERSION=3.11.7:3.12.1``
  (``$PRAKERJA_PYENV_VERSION`` overrides). None works: print ``SKIP: ...`` and exit 3.
- A layer without ``Metadata: BuildArchitecture: arm64`` silently gets x86_64 wheels; reading the
  ELF header of every ``*.so``/``*.so.*`` (e_machine 183 = EM_AARCH64) catches that.

Exit status: 0 built and checked, 1 build or check failed, 3 skipped (no working python3.12).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "template.yaml"
EM_AARCH64 = 183
EXIT_SKIP = 3
BUILT_TYPES = ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion")
ELF_MACHINES = {3: "i386", 40: "arm", 62: "x86_64", 183: "aarch64"}


def cache_root() -> Path:
    return Path(os.environ.get("PRAKERJA_CACHE") or Path.home() / ".cache" / "prakerja")


def elf_machine(header: bytes) -> int | None:
    """e_machine of an ELF header (first 20 bytes suffice); ``None`` when it is not ELF."""
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return None
    order = "little" if header[5] == 1 else "big"
    return int.from_bytes(header[18:20], order)


def is_shared_library(name: str) -> bool:
    return name.endswith(".so") or ".so." in name


def foreign_libraries(root: Path) -> tuple[int, list[str]]:
    """(number of aarch64 libraries, ``path: machine`` of every other ELF library) under root."""
    good, bad = 0, []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath, name)
            if not is_shared_library(name) or path.is_symlink():
                continue
            with open(path, "rb") as handle:
                machine = elf_machine(handle.read(20))
            if machine is None:
                continue
            if machine == EM_AARCH64:
                good += 1
            else:
                bad.append(f"{path.relative_to(root)}: {ELF_MACHINES.get(machine, machine)}")
    return good, bad


def python312_env() -> dict[str, str] | None:
    """An environment in which ``python3.12 -c ''`` works, or ``None``."""
    base = dict(os.environ)
    candidates = [base, {**base, "PYENV_VERSION": os.environ.get("PRAKERJA_PYENV_VERSION", "3.11.7:3.12.1")}]
    for env in candidates:
        try:
            ok = subprocess.run(["python3.12", "-c", ""], env=env, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if ok.returncode == 0:
            return env
    return None


def sam_executable() -> Path:
    venv = os.environ.get("PRAKERJA_SAM_VENV")
    if not venv:
        out = subprocess.run([str(REPO / "scripts" / "venv.sh"), "sam", str(REPO / "requirements" / "sam.lock")],
                             check=True, stdout=subprocess.PIPE, text=True)
        venv = out.stdout.strip().splitlines()[-1]
    return Path(venv) / "bin" / "sam"


def built_resources(ids: list[str]) -> dict[str, dict]:
    """Logical id -> resource of the functions and layers sam builds (restricted to ids if given)."""
    sys.path.insert(0, str(REPO / "local"))
    try:
        from prakerja_local.template import load_yaml
    except ImportError:  # the sam venv or a bare python: any CFN-tag-aware loader will do
        import yaml

        class Loader(yaml.SafeLoader):
            pass

        Loader.add_multi_constructor("!", lambda loader, suffix, node: None)

        def load_yaml(path):
            return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506

    resources = load_yaml(TEMPLATE)["Resources"]
    wanted = {k: v for k, v in resources.items() if v.get("Type") in BUILT_TYPES}
    unknown = [i for i in ids if i not in wanted]
    if unknown:
        raise SystemExit(f"not a function or layer of template.yaml: {', '.join(unknown)}")
    return {k: wanted[k] for k in ids} if ids else wanted


def check_output(build_dir: Path, resources: dict[str, dict]) -> list[str]:
    """Problems found in the build output (empty list: all good)."""
    problems = []
    for logical_id, resource in resources.items():
        out = build_dir / logical_id
        if not out.is_dir() or not any(out.iterdir()):
            problems.append(f"{logical_id}: no build output in {out}")
            continue
        handler = resource.get("Properties", {}).get("Handler")
        if handler and not (out / (handler.rsplit(".", 1)[0].replace(".", "/") + ".py")).is_file():
            problems.append(f"{logical_id}: handler module of {handler} missing in {out}")
    return problems


def build(sam: Path, env: dict[str, str], ids: list[str], root: Path) -> tuple[int, float, Path]:
    build_dir, work = root / "sam-build", root / "sam-work"
    work.mkdir(parents=True, exist_ok=True)
    log = root / "sam-build.log"
    cmd = [str(sam), "build", *ids, "--template", str(TEMPLATE), "--cached", "--parallel",
           "--build-dir", str(build_dir), "--cache-dir", str(root / "sam-cache")]
    env = {**env, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "ap-southeast-3"),
           "PIP_CACHE_DIR": env.get("PIP_CACHE_DIR", str(root / "pip"))}
    started = time.monotonic()
    with open(log, "w", encoding="utf-8") as handle:
        rc = subprocess.run(cmd, cwd=work, env=env, stdout=handle, stderr=subprocess.STDOUT).returncode
    return rc, time.monotonic() - started, log


def main(argv: list[str]) -> int:
    ids = argv[1:]
    env = python312_env()
    if env is None:
        print("SKIP: no working python3.12 (tried `python3.12 -c ''` as is and with PYENV_VERSION="
              f"{os.environ.get('PRAKERJA_PYENV_VERSION', '3.11.7:3.12.1')}); sam build for python3.12 needs one")
        return EXIT_SKIP
    resources = built_resources(ids)
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "sam-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one sam build per cache dir at a time
        warm = (root / "build.toml").exists()
        rc, seconds, log = build(sam_executable(), env, ids, root)
        print(f"sam build ({'warm' if warm else 'cold'} cache, {len(resources)} functions/layers): "
              f"{seconds:.1f} s, exit {rc}; log {log}")
        if rc != 0:
            print(log.read_text(encoding="utf-8")[-4000:])
            return 1
        problems = check_output(root / "sam-build", resources)
        aarch64, foreign = foreign_libraries(root / "sam-build")
    problems += [f"not aarch64: {entry}" for entry in foreign]
    if not ids and aarch64 == 0:
        problems.append("no compiled library found at all: the walk or the build is wrong")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"sam-build: {'ok' if not problems else 'FAILED'} seconds={seconds:.1f} "
          f"resources={len(resources)} aarch64_libraries={aarch64} foreign_libraries={len(foreign)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
