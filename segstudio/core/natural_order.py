"""The order people expect for file names: numbers by value (``2`` before ``10``, ``img_9`` before ``img_10``),
letters without regard to case, and one fixed order for names that differ only in case or leading zeros."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"([0-9]+)")


def natural_key(text: str) -> tuple[tuple[tuple[int, int | str], ...], str]:
    """A sort key for ``text``: runs of ASCII digits compare as numbers, other runs as case-folded text, and a number
    sorts before text at the same place (``1a`` before ``a1``). Names equal under that rule (``a2`` / ``A02``)
    fall back to the plain text, so the order is total: sorting is the same whatever order the names came in."""
    runs: list[tuple[int, int | str]] = []
    # split() alternates text and digit runs (text first, possibly empty); (kind, value) pairs make the kinds differ
    # before an int ever meets a str, so mixed names compare without error.
    for index, run in enumerate(_DIGITS.split(text)):
        if index % 2:
            runs.append((0, int(run)))
        elif run:
            runs.append((1, run.casefold()))
    return tuple(runs), text


__all__ = ["natural_key"]
