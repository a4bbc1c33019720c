"""The live endpoint looks exclusions up one unit at a time, in a bounded cache that expires."""

from __future__ import annotations

from datetime import datetime

import pytest

from levier.analysis.experiments import live as live_mod
from levier.analysis.experiments.live import LiveExperiments
from levier.analysis.experiments.protocol import Protocol, ProtocolStore, WebSettings
from levier.data._frames import insert_frames


def test_exclusions_are_looked_up_per_unit_in_a_bounded_cache(workspace, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    insert_frames(workspace.facts, {"leads": [
        {"lead_id": f"L{i}", "created_at": datetime(2026, 10, 1), "vip": i % 2 == 0} for i in range(6)]})
    ProtocolStore(workspace.path).save(Protocol(key="mail", unit="lead", web=WebSettings(enabled=True)))
    calls: list[str] = []
    real = live_mod.unit_exclusion

    def counting(ws, unit, unit_id, rules):  # noqa: ANN001, ANN202
        calls.append(unit_id)
        return real(ws, unit, unit_id, rules)

    monkeypatch.setattr(live_mod, "unit_exclusion", counting)
    now = [0.0]
    live = LiveExperiments(workspace, ttl=60.0, clock=lambda: now[0], max_exclusions=2)
    assert live.variant("mail", "L0").reason == "vip"
    assert live.variant("mail", "L0").reason == "vip" and calls == ["L0"]  # cached
    assert live.variant("mail", "L2").excluded and live.variant("mail", "L4").excluded
    assert list(live._excluded) == [("mail", "L2"), ("mail", "L4")]  # L0 evicted: at most 2 entries
    assert live.variant("mail", "L0").excluded and calls == ["L0", "L2", "L4", "L0"]
    now[0] = 61.0  # expired: read again (a lead flagged since is seen within ttl)
    assert live.variant("mail", "L0").excluded and calls[-1] == "L0" and len(calls) == 5
    ok = live.variant("mail", "L1")
    assert ok.new and not ok.excluded and calls[-1] == "L1"
    assert live.variant("mail", "L1").variant == ok.variant and calls[-1] == "L1" and len(calls) == 6  # known: no lookup
