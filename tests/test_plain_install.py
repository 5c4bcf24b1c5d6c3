"""The demo install (`pip install vbr`, no extras) must not need the server extra or click."""

import subprocess
import sys

BLOCKED = ("fastapi", "uvicorn", "starlette", "click", "dask", "distributed", "pyarrow")

SCRIPT = f"""
import sys
for name in {BLOCKED!r}:
    sys.modules[name] = None  # importing any of these now fails, as on a plain install
from vbr.plugins import build
system = build(load_entrypoints=False)
assert {{"6cs", "nhs-constitution"}} <= set(system.registry("rubrics"))
assert "evidence" in system.registry("scorers")
from vbr.cli import _register_all
_register_all()
print("ok")
"""


def test_plugins_and_cli_load_without_optional_extras():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")
