"""Webhooks: durable deliveries, retries with backoff against a local receiver, Slack format, signature."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from levier.errors import OptionError
from levier.loop.db import make_engine, make_sessionmaker
from levier.loop.models import utcnow
from levier.loop.services import webhooks


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that answers 500 to the first ``fail_first`` calls."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first, self.calls = fail_first, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append({"body": json.loads(body), "raw": body, "headers": dict(self.headers)})
                self.send_response(500 if len(outer.calls) <= outer.fail_first else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


def test_retries_with_backoff_until_delivered(s, receiver: Receiver) -> None:  # noqa: ANN001
    policy = webhooks.RetryPolicy(max_attempts=5, base_delay=10, max_delay=15)
    hook = webhooks.create_webhook(s, "ops", receiver.url, ["action.created"], secret="s3cret")
    webhooks.emit(s, "action.created", {"id": 1, "title": "Call faster", "owner": "ana"})
    s.commit()
    t0 = utcnow()
    assert webhooks.deliver_pending(s, policy=policy, now=t0) == {"delivered": 0, "pending": 1, "failed": 0, "skipped": 0}
    [row] = webhooks.list_deliveries(s)
    assert (row.attempts, row.last_status_code, row.next_attempt_at) == (1, 500, t0 + timedelta(seconds=10))
    # not due yet: nothing is sent
    assert webhooks.deliver_pending(s, policy=policy, now=t0 + timedelta(seconds=5))["pending"] == 0
    assert webhooks.deliver_pending(s, policy=policy, now=t0 + timedelta(seconds=10))["pending"] == 1
    assert row.next_attempt_at == t0 + timedelta(seconds=25)  # 10 s then 2 × 10 = 20 s capped at 15 s
    assert webhooks.deliver_pending(s, policy=policy, now=t0 + timedelta(seconds=25))["delivered"] == 1
    s.refresh(row)
    assert (row.status, row.attempts, [x["status_code"] for x in row.log]) == ("delivered", 3, [500, 500, 200])
    assert len(receiver.calls) == 3
    call = receiver.calls[-1]
    assert call["body"]["event"] == "action.created" and call["body"]["data"]["title"] == "Call faster"
    assert call["headers"]["X-Levier-Signature"] == webhooks.sign("s3cret", call["raw"])
    assert hook.to_dict()["secret"] == "***"


def test_gives_up_after_max_attempts(s, receiver: Receiver) -> None:  # noqa: ANN001
    policy = webhooks.RetryPolicy(max_attempts=2, base_delay=0)
    webhooks.create_webhook(s, "slack", receiver.url, ["*"], format="slack")
    webhooks.emit(s, "playbook.standardised", {"title": "SMB cadence", "version": 2})
    s.commit()
    now = utcnow()
    webhooks.deliver_pending(s, policy=policy, now=now)
    assert webhooks.deliver_pending(s, policy=policy, now=now)["failed"] == 1
    assert webhooks.list_deliveries(s, status="failed")[0].attempts == 2
    assert receiver.calls[0]["body"]["text"] == "[Levier] playbook.standardised: SMB cadence — version 2 is now the standard"


def test_unreachable_receiver_is_retried(s) -> None:  # noqa: ANN001
    webhooks.create_webhook(s, "dead", "http://127.0.0.1:9/nothing", ["*"])
    webhooks.emit(s, "action.overdue", {"title": "x"})
    s.commit()
    webhooks.deliver_pending(s, policy=webhooks.RetryPolicy(timeout=2))
    [row] = webhooks.list_deliveries(s)
    assert row.status == "pending" and row.last_status_code is None and "Error" in row.last_error


def test_two_workers_never_send_twice(db_url: str, receiver: Receiver) -> None:
    receiver.fail_first = 0
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    with factory() as s:
        webhooks.create_webhook(s, "ops", receiver.url, ["*"])
        for i in range(6):
            webhooks.emit(s, "action.created", {"id": i})
        s.commit()
    results = []

    def work(name: str) -> None:
        with factory() as s:
            results.append(webhooks.deliver_pending(s, worker=name))

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sum(r["delivered"] for r in results) == 6
    assert sorted(c["body"]["data"]["id"] for c in receiver.calls) == list(range(6))
    engine.dispose()


def test_subscription_validation(s) -> None:  # noqa: ANN001
    with pytest.raises(OptionError):
        webhooks.create_webhook(s, "x", "ftp://example.com", ["*"])
    with pytest.raises(OptionError):
        webhooks.create_webhook(s, "x", "https://example.com", ["action.deleted"])
    with pytest.raises(OptionError):
        webhooks.create_webhook(s, "x", "https://example.com", ["*"], format="teams")
    h = webhooks.create_webhook(s, "x", "https://example.com", ["action.created"])
    assert webhooks.update_webhook(s, h.id, active=False).active is False
    assert webhooks.emit(s, "action.created", {}) == []
