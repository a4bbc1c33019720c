"""Arm.changes: the JSON shape the landing-page snippet applies, validated in the protocol model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from levier.analysis.experiments.live import RateLimiter
from levier.analysis.experiments.protocol import Arm, Change, Protocol, WebSettings


def test_valid_changes_round_trip() -> None:
    arm = Arm(name="treatment", changes=[
        {"selector": "h1", "action": "text", "value": "New headline"},
        {"selector": ".cta", "action": "attr", "name": "href", "value": "/demo"},
        {"selector": ".cta", "action": "css", "name": "background-color", "value": "#e4572e"},
        {"selector": "#phone-row", "action": "hide"},
    ])
    p = Protocol(key="k", arms=[Arm(name="control"), arm])
    again = Protocol.model_validate_json(p.model_dump_json())
    assert again.arms[1].changes == arm.changes
    assert [c.action for c in again.arms[1].changes] == ["text", "attr", "css", "hide"]
    assert p.web == WebSettings(enabled=False, origins=[], rate_per_minute=120)


@pytest.mark.parametrize("change", [
    {"selector": "h1", "action": "text"},                                        # no value
    {"selector": "h1", "action": "move", "value": "x"},                          # unknown action
    {"selector": "", "action": "text", "value": "x"},                            # empty selector
    {"selector": "a", "action": "attr", "name": "onclick", "value": "steal()"},  # event handler
    {"selector": "a", "action": "attr", "name": "href", "value": " JavaScript:alert(1)"},
    {"selector": "a", "action": "attr", "name": "style", "value": "color:red"},  # use css
    {"selector": "a", "action": "css", "name": "background", "value": "url(https://x)"},
    {"selector": "a", "action": "css", "name": "color;", "value": "red"},
    {"selector": "a", "action": "hide", "value": "x"},
    {"selector": "a", "action": "text", "value": "x", "extra": 1},
])
def test_bad_changes_are_refused(change: dict) -> None:
    with pytest.raises(ValidationError):
        Change.model_validate(change)


def test_origins_and_allow() -> None:
    web = WebSettings(enabled=True, origins=["https://www.example.com", "http://127.0.0.1:8000"])
    assert web.allows(None) and web.allows("https://www.example.com") and not web.allows("https://example.com")
    assert WebSettings(origins=["*"]).allows("https://any.where")
    with pytest.raises(ValidationError):
        WebSettings(origins=["https://www.example.com/path"])


def test_rate_limiter_refills_continuously() -> None:
    now = [0.0]
    rl = RateLimiter(clock=lambda: now[0])
    assert [rl.allow("ip", 60)[0] for _ in range(61)] == [True] * 60 + [False]
    assert rl.allow("ip", 60) == (False, pytest.approx(1.0))
    now[0] = 2.5  # 2.5 tokens back at 1 per second
    assert [rl.allow("ip", 60)[0] for _ in range(3)] == [True, True, False]
    assert rl.allow("other", 60)[0]
