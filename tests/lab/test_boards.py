"""Several emulated boards in one run: one pytest-xdist worker and one QEMU per
board, results merged into one run dir (one verdicts.json, one JUnit, one report)."""
from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench.config import project_root

pytestmark = pytest.mark.emulated
SUBSET = "test_one_mail_with_dotted_body or test_auth or test_apop_session or test_bad_password"


def test_two_boards_one_run_dir(tmp_path: Path) -> None:
    run = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "bench.cli", "run", "--boards", "2", "--run-dir", str(run),
                        "--", "-k", SUBSET], capture_output=True, text=True, timeout=600, cwd=project_root())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    data = json.loads((run / "verdicts.json").read_text())
    names = [t["nodeid"].split("::")[-1] for t in data["tests"]]
    planned = data["planned"]  # 9 since test_auth_refused has a case per mechanism
    assert planned >= 8 and len(names) == len(set(names)) == planned, names  # every test once, from whichever worker
    assert all(t["outcome"] == "passed" and t["verdicts"] for t in data["tests"])
    assert sorted(data["boards"]) == ["gw0", "gw1"] and {b["board"] for b in data["boots"]} == {"gw0", "gw1"}
    assert data["status"] == "complete" and data["device"]["board"] == "mps2-an385"
    for w in ("gw0", "gw1"):  # each board its own QEMU files and UART log
        assert (run / f"board-{w}" / "qemu.log").is_file() and (run / f"uart-session-{w}.log").is_file()
    suite = ET.parse(run / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(planned) and suite.get("failures") == "0"
    assert (run / "report.html").is_file()
