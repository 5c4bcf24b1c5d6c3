"""The README's curl walk-through, run as written (bash, curl, a real ``vbr serve``) on a free
port in an empty folder: the gate holds the shortlist, the ATS may not release it, the equality
officer reads why and releases it, and the log shows each step."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", readme, re.S)
    assert m, "README.md has no walk-through block between the walkthrough markers"
    return m.group(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_readme_walkthrough_runs_to_a_released_shortlist(tmp_path):
    script = walkthrough()
    assert "8765" in script
    script = script.replace("8765", str(free_port()))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "VBR_DATA_DIR": str(tmp_path / "data")}
    env.pop("VBR_DB", None)
    proc = subprocess.Popen(["bash", "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        text, err = proc.communicate(timeout=300)
    finally:  # the server it started in the background goes too, whatever happened
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 0, text[-3000:] + err[-3000:]
    assert '"created":true' in text and '"scores":30' in text
    proposed = re.search(r'\{"shortlist_id":1,"campaign_id":"band5","decision":"(\w+)".*?"released":(\w+),'
                         r'"application_ids":(\[.*?\])', text)
    assert proposed and proposed.group(1) == "REVIEW" and proposed.group(2) == "false", text
    assert '"type":"urn:vbr:problem:held-by-gate"' in text and '"status":403' in text
    assert "Black or Black British - African: ratio below 0.80 but too few applicants to conclude" in text
    released = re.search(r'\{"shortlist_id":1,"released":true,"application_ids":(\[.*?\])\}', text)
    assert released and released.group(1) == proposed.group(3)  # the same list, in the same order
    log = [line.split() for line in text.splitlines() if re.match(r"^\d+ \S+\.\S+ \S+:\S+$", line)]
    assert [(a, s) for _, a, s in log if not a.startswith("key.")] == [
        ("campaign.created", "campaign:band5"), ("scores.added", "campaign:band5"),
        ("shortlist.proposed", "shortlist:1"), ("shortlist.review", "shortlist:1"),
        ("shortlist.released", "shortlist:1")]
    assert (tmp_path / "trust.sqlite").exists() and (tmp_path / "trust-equality.sqlite").exists()
