"""The README's "Try it by hand" walkthrough runs as written, on a fresh local stack."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from prakerja_local import launch

REPO = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Try it by hand", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("curl") is None, reason="needs curl and jq")
def test_the_readme_walkthrough_goes_from_sign_up_to_the_batch_result(tmp_path):
    stack = launch.start(REPO / "artifacts" / "readme-stack.log")
    try:
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", walkthrough()], cwd=REPO, capture_output=True,
                                text=True, timeout=300, env={**os.environ, "B": stack.base_url})
    finally:
        stack.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert '"status":"SELECTED"' in lines[-1]
    assert '{"email":"VERIFIED","ktp":"VALID","nik":"VERIFIED","assessment":"PASSED","batch":"NOT_JOINED"}' \
        in result.stdout
