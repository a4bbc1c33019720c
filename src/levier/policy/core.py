"""``Policy``: the rules of a workspace plus its incremental state — check and record touches."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from levier.data.schema import DIRECTIONS, OUTCOMES, TOUCH_CHANNELS
from levier.errors import NotFoundError, OptionError
from levier.i18n import gettext as _
from levier.policy._time import parse_time, to_epoch
from levier.policy.build import build_state
from levier.policy.engine import Decision, decide
from levier.policy.rules import PolicyRules, default_rules_text, parse_rules, rules_from_dict
from levier.policy.snapshot import build_snapshot
from levier.policy.state import STATE_FILE, LeadState, StateStore, facts_fingerprint, token_map

__all__ = ["Policy", "POLICY_KEY", "RULES_TOKEN", "active_rules", "save_rules", "rules_changed"]

#: Key of the playbook entry (kind threshold_sla) that stores the workspace's contact policy.
POLICY_KEY = "contact-policy"
#: The 8-byte token file in the workspace that moves whenever the contact rules change.
RULES_TOKEN = "policy_rules.version"
API_BATCH_FILE = "(levier api: posted touches)"


def active_rules(ws: Any) -> tuple[PolicyRules, str]:
    """The workspace policy: the standard playbook version, else the newest draft, else the default."""
    from levier.loop.services import playbook

    with ws.session() as s:
        rows = [r for r in playbook.versions(s, POLICY_KEY) if r.status != "retired"]
    chosen = next((r for r in reversed(rows) if r.status == "standard"), rows[-1] if rows else None)
    if chosen is None:
        return parse_rules(default_rules_text(), "default_policy.yaml"), "default"
    text = chosen.content.get("yaml")
    rules = parse_rules(text, f"playbook {POLICY_KEY} v{chosen.version}") if text else rules_from_dict(chosen.content.get("value"))
    return rules, f"playbook:{POLICY_KEY}:v{chosen.version}:{chosen.status}"


def save_rules(ws: Any, text: str, *, learning_ids: list[int] | None = None, experiment_ids: list[int] | None = None) -> dict[str, Any]:
    """Store validated YAML as a new playbook version (standardised when evidence is linked)."""
    from levier.loop.services import playbook

    rules = parse_rules(text)
    content = {"metric": "contact_policy", "unit": "rules", "value": rules.model_dump(mode="json"), "yaml": text}
    with ws.session() as s:
        if playbook.versions(s, POLICY_KEY):
            latest = playbook.versions(s, POLICY_KEY)[-1]
            row = (playbook.update_draft(s, latest.id, content=content) if latest.status == "draft"
                   else playbook.new_version(s, POLICY_KEY, content=content, learning_ids=learning_ids, experiment_ids=experiment_ids))
        else:
            row = playbook.create_entry(s, POLICY_KEY, "threshold_sla", _("Contact policy"), content=content,
                                        learning_ids=learning_ids, experiment_ids=experiment_ids)
        if learning_ids or experiment_ids:
            playbook.link(s, row.id, learning_ids=learning_ids, experiment_ids=experiment_ids)
            row = playbook.standardise(s, row.id)
        detail = playbook.entry_detail(s, row.id)
        s.commit()
    rules_changed(ws)
    return detail


def rules_changed(ws: Any) -> None:
    """Tell every process serving this workspace to reload the contact rules at its next check.

    :func:`save_rules` calls it; code that changes the ``contact-policy`` playbook entry another
    way (standardise, retire) should too — otherwise workers notice within a minute (refresh).
    """
    token = token_map(Path(ws.path) / RULES_TOKEN)
    try:
        token[:8] = os.urandom(8)
    finally:
        token.close()


class Policy:
    """Contact rules + state of one workspace. Use :meth:`load`."""

    def __init__(self, ws: Any, rules: PolicyRules, store: StateStore, source: str) -> None:
        self.ws, self.rules, self.store, self.source = ws, rules, store, source
        self.responses = frozenset(rules.response_outcomes)
        self._checked_at = time.monotonic()
        self._lock = threading.RLock()
        self._segments: tuple[PolicyRules, dict[tuple[Any, ...], Any]] = (rules, {})
        # the workspace's rules (not rules given to load): follow the rules token (decision 0187)
        self._rules_token = token_map(Path(ws.path) / RULES_TOKEN) if source != "given" else None
        self._rules_tok = self._rules_token[:8] if self._rules_token is not None else b""

    def _rules_moved(self) -> bool:
        return self._rules_token is not None and self._rules_token[:8] != self._rules_tok

    def reload_rules(self) -> bool:
        """Read the workspace rules again (the playbook); True when they changed.

        Called at the next check after :func:`rules_changed` (any process), and by :meth:`refresh`
        once a minute for changes made without it. New response outcomes make the state stale: the
        next :meth:`refresh_every` (a server: the next request, in its thread pool) rebuilds it.
        """
        if self._rules_token is None:
            return False
        with self._lock:
            self._rules_tok = self._rules_token[:8]
            rules, source = active_rules(self.ws)
            if source == self.source and rules == self.rules:
                return False
            self.rules, self.source, self.responses = rules, source, frozenset(rules.response_outcomes)
            if self.store.meta("responses") != ",".join(sorted(self.responses)):
                self._checked_at = 0.0  # other response outcomes: the next refresh rebuilds, off the event loop
            return True

    def _segment_for(self, lead: LeadState) -> Any:
        """``rules.segment_for`` memoised per (channel, size, phase) for the current rules."""
        rules, found = self._segments
        if rules is not self.rules:
            self._segments = rules, found = self.rules, {}
        key = (lead.channel, lead.size, lead.phase)
        if key not in found:
            if len(found) > 4096:
                found.clear()
            found[key] = rules.segment_for(*key)
        return found[key]

    @classmethod
    def load(cls, ws: Any, *, rules: PolicyRules | None = None, state_path: str | Path | None = None, rebuild: bool = False,
             snapshot: bool = True) -> Policy:
        """The workspace policy with its state, (re)built from the facts when they changed.

        ``snapshot=False`` reads every lead from SQLite (through the LRU) instead of the shared
        memory-mapped snapshot (docs/decisions/0140-policy-snapshot.md).
        """
        source = "given"
        if rules is None:
            rules, source = active_rules(ws)
        store = StateStore(state_path or Path(ws.path) / STATE_FILE, snapshot=snapshot)
        policy = cls(ws, rules, store, source)
        policy.refresh(force=rebuild)
        store.sync()  # maps (or builds) the snapshot now rather than on the first check
        return policy

    def close(self) -> None:
        self.store.close()
        if self._rules_token is not None:
            self._rules_token.close()

    def __enter__(self) -> Policy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- state --------------------------------------------------------------------------
    def is_stale(self) -> bool:
        return (self.store.meta("fingerprint") != facts_fingerprint(self.ws)
                or self.store.meta("responses") != ",".join(sorted(self.responses)))

    def refresh(self, *, force: bool = False) -> bool:
        """Rebuild the state when the facts changed outside this policy (imports, cleaning)."""
        with self._lock:
            self._checked_at = time.monotonic()
            self.reload_rules()
            if force or self.is_stale():
                build_state(self.ws, self.store, self.responses)
                return True
        self.compact()
        return False

    def compact(self, *, force: bool = False) -> bool:
        """Fold a long change log into a new snapshot (written outside the lock: checks go on meanwhile)."""
        with self._lock:
            due = self.store.compact_due(force=force)
        if due is None:
            return False
        snap = build_snapshot(self.store.path, due[0], min_seq=due[1])
        if snap is None:
            return False
        with self._lock:
            return self.store.fold(due[0], snap)

    def refresh_due(self, seconds: float = 60.0) -> bool:
        """True when :meth:`refresh_every` would look at the facts again."""
        return time.monotonic() - self._checked_at >= seconds

    def refresh_every(self, seconds: float = 60.0) -> None:
        """:meth:`refresh` at most once per ``seconds`` (servers call it before each request)."""
        if time.monotonic() - self._checked_at >= seconds:
            self.refresh()

    def lead_state(self, lead_id: str) -> LeadState:
        with self._lock:
            lead = self.store.lead(str(lead_id))
        if lead is None:
            raise NotFoundError(_("No lead '{lead}' in the facts.", lead=lead_id), hint=_("Check the id, or import the lead first."))
        return lead

    def _cached_lead(self, lead_id: str) -> LeadState:
        """:meth:`lead_state` through the store's coherent LRU (read-only; the hot path of :meth:`check`)."""
        with self._lock:
            lead = self.store.cached_lead(str(lead_id))
        if lead is None:
            raise NotFoundError(_("No lead '{lead}' in the facts.", lead=lead_id), hint=_("Check the id, or import the lead first."))
        return lead

    # -- the check ----------------------------------------------------------------------
    def check(self, lead_id: str, channel: str, at: str | datetime | None = None) -> Decision:
        """May ``lead_id`` be contacted on ``channel`` at ``at`` (default: now, UTC)?"""
        _check_channel(channel)
        when = parse_time(at)
        if self._rules_moved():
            self.reload_rules()
        store = self.store
        with self._lock:
            lead = store.cached_lead(str(lead_id))
            if lead is None:
                raise NotFoundError(_("No lead '{lead}' in the facts.", lead=lead_id), hint=_("Check the id, or import the lead first."))
            seg = self._segment_for(lead)
            account = store.cached_account(lead.account_id) if seg is not None and seg.account_cap is not None else []
            return decide(self.rules, lead, channel, when, to_epoch(when), account, store.week_totals, seg, matched=True)

    def record_touch(self, lead_id: str, channel: str, at: str | datetime | None = None, *, direction: str = "out",
                     outcome: str | None = None, owner: str | None = None, campaign_id: str | None = None,
                     touch_id: str | None = None) -> dict[str, Any]:
        """Append a touch to the facts and fold it into the state at once; returns the stored row."""
        _check_channel(channel)
        if direction not in DIRECTIONS:
            raise OptionError(_("direction: '{value}' is not one of {allowed}.", value=direction, allowed=", ".join(DIRECTIONS)))
        if outcome is not None and outcome not in OUTCOMES:
            raise OptionError(_("outcome: '{value}' is not one of {allowed}.", value=outcome, allowed=", ".join(OUTCOMES)))
        when = parse_time(at)
        if self._rules_moved():
            self.reload_rules()
        lead = self.lead_state(lead_id)
        row = {"touch_id": touch_id or f"api-{uuid.uuid4().hex[:20]}", "lead_id": lead.lead_id, "at": when, "channel": channel,
               "direction": direction, "owner": owner or lead.owner, "outcome": outcome, "campaign_id": campaign_id}
        with self._lock:
            _append_touch(self.ws, row)
            meta = {"fingerprint": facts_fingerprint(self.ws)}
            self.store.record(lead, to_epoch(when), channel, direction == "out", outcome, self.responses, meta)
        return row


def _check_channel(channel: str) -> None:
    if channel not in TOUCH_CHANNELS:
        raise OptionError(_("channel: '{value}' is not one of {allowed}.", value=channel, allowed=", ".join(TOUCH_CHANNELS)))


def _append_touch(ws: Any, row: dict[str, Any]) -> None:
    """Write the touch to the facts, or queue it when this process has them read-only (levier.data.inbox)."""
    from levier.data.inbox import append_facts, pending_facts

    raw = ws.facts.raw("touches")
    queued = not ws.facts_writable and pending_facts(ws, "touches", lead_id=row["lead_id"], touch_id=row["touch_id"])
    if int(raw.filter(raw.touch_id == row["touch_id"]).count().execute()) or queued:
        from levier.errors import ConflictError

        raise ConflictError(_("A touch with id '{id}' already exists.", id=row["touch_id"]), hint=_("Leave touch_id empty to get a new id."))
    append_facts(ws, "touches", [row], source=API_BATCH_FILE, preset="levier-api", reuse_batch=True)
