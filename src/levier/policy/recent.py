"""The newest outbound touch codes of every lead and account, from streams sorted by the engine.

A list per group (``list``, ``max(x, n)``) is an aggregate state DuckDB 1.4 cannot spill: at 10M
leads it does not fit in the workspace's 2 GB ``memory_limit``, and a ``row_number`` window does
not spill either. A sort does. So the engine returns the outbound touch codes sorted by key
(lead or account), newest first, and the first :data:`~levier.policy.rules.RECENT_KEPT` codes of
each key are cut here, one Arrow record batch at a time (NumPy on the batch; a key whose run
crosses a batch boundary is carried over). Memory is one batch whatever the data (decision 0234).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from levier.policy.rules import RECENT_KEPT

__all__ = ["coded_touches", "lead_codes_query", "account_codes_query", "top_per_key", "codes_json"]


def coded_touches(ws: Any, responses: frozenset[str]) -> ibis.Table:
    """The touches with ``is_out``, ``resp``, ``ts`` (epoch seconds) and ``packed`` = ts × 8 + channel code
    (newest first = largest; within one second, the higher channel code first)."""
    from levier.policy.state import CHANNEL_CODE

    t = ws.table("touches")
    is_out = t.direction.isnull() | (t.direction != "in")
    resp = (t.direction == "in") | t.outcome.isin(sorted(responses))
    code = t.channel.cases(*[(c, i) for c, i in CHANNEL_CODE.items()], else_=7)
    t = t.mutate(is_out=is_out, resp=resp.fill_null(False), ts=t.at.epoch_seconds().cast("int64"), code=code)
    return t.mutate(packed=t.ts * 8 + t.code)


def lead_codes_query(ws: Any) -> ibis.Table:
    """``key`` (lead), ``code``: every outbound touch, by lead then newest first."""
    t = coded_touches(ws, frozenset())
    t = t.filter(t.is_out & t.lead_id.notnull())
    return t.select(key=t.lead_id, code=t.packed).order_by(["key", ibis.desc("code")])


def account_codes_query(ws: Any) -> ibis.Table:
    """``key`` (account), ``code``: every outbound touch of the account's leads, by account then newest first."""
    t = coded_touches(ws, frozenset())
    t = t.filter(t.is_out)
    le = ws.table("leads")
    le = le.filter(le.account_id.notnull()).select(l_lead=le.lead_id, account_id=le.account_id)
    j = t.join(le, t.lead_id == le.l_lead)
    return j.select(key=j.account_id, code=j.packed).order_by(["key", ibis.desc("code")])


def top_per_key(batches: Iterable[pa.RecordBatch], k: int = RECENT_KEPT) -> Iterator[tuple[str, list[int]]]:
    """From ``(key, code)`` rows sorted by key (then code, newest first): each key once, in order, with
    its first ``k`` codes, ascending (the order the state stores)."""
    held: tuple[str, list[int]] | None = None  # the batch's last key: its run may go on in the next batch
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        keys, codes = batch.column(0), batch.column(1).to_numpy(zero_copy_only=False)
        change = np.ones(n, dtype=bool)
        if n > 1:
            change[1:] = pc.not_equal(keys.slice(1), keys.slice(0, n - 1)).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(change)
        lengths = np.diff(np.r_[starts, n])
        rank = np.arange(n) - np.repeat(starts, lengths)
        keep = rank < k
        kept = pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(np.minimum(lengths, k))], pa.int32()),
                                        pa.array(codes[keep], pa.int64())).to_pylist()
        names = keys.take(pa.array(starts)).to_pylist()
        if held is not None:
            if names[0] == held[0]:
                kept[0] = sorted(held[1] + kept[0])[-k:]
            else:
                yield held[0], sorted(held[1])
        for i in range(len(names) - 1):
            yield names[i], sorted(kept[i])
        held = (names[-1], kept[-1])
    if held is not None:
        yield held[0], sorted(held[1])


def codes_json(codes: list[int]) -> str:
    """``json.dumps`` of a list of ints, without the encoder's per-call cost (millions of calls in a build)."""
    return "[" + ", ".join(map(str, codes)) + "]"
