"""The team-deployment smoke test (scripts/deploy-smoke.sh) in CI: PostgreSQL + two workers on loopback.

It needs the PostgreSQL cluster that scripts/test-setup.sh starts (`make test` runs it first);
the script starts it itself when it does not answer and the machine allows it. Never skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.xdist_group("deploy")
def test_two_workers_share_sessions_board_policy_variants_and_the_facts_inbox() -> None:
    env = {**os.environ, "LEVIER_PYTHON": sys.executable, "LEVIER_LANG": "en"}
    run = subprocess.run(["bash", str(ROOT / "scripts" / "deploy-smoke.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"deploy-smoke.sh failed:\n{run.stderr[-4000:]}"
    assert "OK: 2 workers" in run.stderr
    assert "session accepted by" in run.stderr and "on the board of" in run.stderr
