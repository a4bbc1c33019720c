"""Integer encoding of channel paths, built once and shared by the vectorised models.

Paths are stored *ragged*: ``codes`` holds every step of every path one after the other
(channel index into the sorted ``channels``), ``lengths`` the number of steps per path, so
path ``i`` is ``codes[offsets[i]:offsets[i] + lengths[i]]``. No padding: a few very long
paths cost what their steps cost.

:func:`parse_many` turns path strings (``"A > B>C"``) into that encoding in a handful of
whole-array passes (one join, one split, two hash factorisations) instead of a Python loop
over steps; strings with unusual whitespace fall back to :func:`parse_path` one by one, so
the result is always the same as parsing each string with it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np

__all__ = ["EncodedPaths", "as_strings", "encode_tuples", "parse_many"]

_ASCII_SPACE = " \t\r\x0b\x0c"


@dataclass(frozen=True, eq=False)
class EncodedPaths:
    """Channel codes of every path step (ragged), with the sorted channel names."""

    channels: tuple[str, ...]
    codes: np.ndarray  # int64, length = total steps
    lengths: np.ndarray  # int64, one per path

    @property
    def offsets(self) -> np.ndarray:
        """Index in ``codes`` of each path's first step."""
        out = np.zeros(len(self.lengths), dtype=np.int64)
        if len(self.lengths) > 1:
            np.cumsum(self.lengths[:-1], out=out[1:])
        return out

    def path_of_step(self) -> np.ndarray:
        """For each entry of ``codes``, the index of its path."""
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while allocating many small acyclic objects.

    Building thousands of tuples and strings triggers young-generation collections that
    cost more than the allocations themselves; nothing allocated here forms cycles.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def as_strings(values: Any) -> list[str]:
    """A list of ``str`` from a sequence, a NumPy array or a pandas / Arrow column (fast path)."""
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    return [v if type(v) is str else str(v) for v in items]


def _from_tokens(tokens: Sequence[str], lengths: np.ndarray) -> EncodedPaths:
    """Encode a flat token list (channel names, path after path) given each path's length."""
    names = sorted(set(tokens))  # Python's str order, as PathCounts.channels
    index = {name: i for i, name in enumerate(names)}
    codes = np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
    return EncodedPaths(tuple(names), codes, lengths.astype(np.int64))


def encode_tuples(paths: Sequence[tuple[str, ...]]) -> EncodedPaths:
    """The encoding of paths already split into tuples of channel names."""
    with _no_gc():
        return _encode_tuples(paths)


def _encode_tuples(paths: Sequence[tuple[str, ...]]) -> EncodedPaths:
    lengths = np.fromiter(map(len, paths), dtype=np.int64, count=len(paths))
    return _from_tokens(list(chain.from_iterable(paths)), lengths)


def _normalise_fast(text: str, sep: str) -> str | None:
    """Drop blanks around separators and empty steps in the joined text; None if not safe.

    Safe when the only whitespace is ASCII: then ``str.strip()`` (what :func:`parse_path`
    applies to each step) removes exactly the characters handled here.
    """
    if len(sep) != 1 or sep in _ASCII_SPACE + "\n":
        return None
    if not any(c in text for c in _ASCII_SPACE) and sep + sep not in text:
        return text
    if not text.isascii() and any(c.isspace() and c not in _ASCII_SPACE + "\n" for c in set(text)):
        return None
    before = None
    while before != text:
        before = text
        for ws in _ASCII_SPACE:
            while ws + sep in text:
                text = text.replace(ws + sep, sep)
            while sep + ws in text:
                text = text.replace(sep + ws, sep)
        while sep + sep in text:
            text = text.replace(sep + sep, sep)
    return text


def parse_many(strings: Sequence[str], sep: str = ">") -> tuple[np.ndarray, list[tuple[str, ...]], EncodedPaths]:
    """Parse path strings at once.

    Returns ``(inverse, paths, encoded)``: ``paths`` are the distinct non-empty parsed paths
    in order of first appearance, ``inverse[i]`` the index in ``paths`` of ``strings[i]``
    (``-1`` for a string with no channel), and their integer encoding.
    """
    from levier.analysis.attribution.paths import parse_path

    with _no_gc():
        return _parse_many(as_strings(strings), sep, parse_path)


def _parse_many(items: list[str], sep: str, parse_path: Any) -> tuple[np.ndarray, list[tuple[str, ...]], EncodedPaths]:
    text = "\n".join(items)
    fast = None if text.count("\n") != max(len(items) - 1, 0) else _normalise_fast(text, sep)
    if fast is None:
        parsed = [sep.join(parse_path(s, sep)) for s in items]
    else:
        strip = _ASCII_SPACE + sep
        parsed = [s.strip(strip) for s in fast.split("\n")] if items else []
    uniques = [p for p in dict.fromkeys(parsed) if p]  # first-appearance order; "" = no channel
    index = {p: i for i, p in enumerate(uniques)}
    inverse = np.fromiter(map(index.get, parsed, repeat(-1)), dtype=np.int64, count=len(parsed))
    lengths = np.fromiter((u.count(sep) + 1 for u in uniques), dtype=np.int64, count=len(uniques))
    tokens = sep.join(uniques).split(sep) if uniques else []
    paths = [tuple(u.split(sep)) for u in uniques]
    return inverse, paths, _from_tokens(tokens, lengths)
