"""The order people expect for file names: numbers by value (``2`` before ``10``, ``img_9`` before ``img_10``),
letters without regard to case, and one fixed order for names that differ only in case or leading zeros."""

from __future__ import annotations

import re

_RUNS = re.compile(r"([0-9]+)|([^0-9]+)")


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """A sort key for ``text``: runs of ASCII digits compare as numbers, other runs as case-folded text, and a number
    sorts before text at the same place (``1a`` before ``a1``). Names equal under that rule (``a2`` / ``A02``)
    fall back to the plain text, so the order is total: sorting is the same whatever order the names came in."""
    runs: list[tuple[int, int | str]] = []
    for digits, other in _RUNS.findall(text):
        # (kind, value): the kinds differ before an int ever meets a str, so mixed names compare without error.
        runs.append((0, int(digits)) if digits else (1, other.casefold()))
    return tuple(runs), text


__all__ = ["natural_key"]
