"""Label-set files <-> :class:`~segstudio.core.labels.LabelSet`.

Formats, chosen by suffix:

- ``.toml`` / ``.json``: the structure of :meth:`LabelSet.to_mapping` / :meth:`LabelSet.from_mapping`::

      ignore_index = 255
      [[classes]]
      name = "background"
      colour = "#000000"

  ``classes`` may also be a plain list of names (default colours). A JSON file may be just that list.
- ``.txt``: one class name per line in id order, blank lines and ``#`` comments skipped (labelme's
  ``labels.txt``). labelme's conventions are understood: a first line ``__ignore__`` is its id -1, which
  labelme writes into PNG masks as 255, so it becomes ignore id 255 here; ``_background_`` is named
  ``background``. Classes get labelme's colours, the VOC colour map (what labelme paints its PNG masks
  with), so masks converted by labelme show in the colours it showed them in.
- A colour table image (e.g. CamVid's 256x1 RGBA ``colour_lut.png``) holds colours but neither names nor a
  class count: read it with :func:`label_set_from_colour_table`.

Every problem raises :class:`~segstudio.core.errors.FileProblem` naming the file (a :class:`LabelSet`
validation message is passed on as the problem).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tomli_w

from segstudio.core.labels import (
    LabelSet,
    colour_to_hex,
    default_colours,
    refuse_ignore_colour,
    shared_colours,
    voc_palette,
)
from segstudio.core.atomic import write_text_atomic
from segstudio.core.errors import FileProblem
from segstudio.io.images import IMAGE_SUFFIXES, read_image

LABEL_SET_SUFFIXES: frozenset[str] = frozenset({".toml", ".json", ".txt"})

LABELME_IGNORE = "__ignore__"
LABELME_BACKGROUND = "_background_"
LABELME_IGNORE_INDEX = 255  # labelme's -1, as its PNG writer stores it (uint8)


def read_label_set(path: str | Path) -> LabelSet:
    """A label set from a ``.toml``, ``.json`` or ``.txt`` file (see the module notes)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        raise FileProblem(
            path,
            "a colour table image holds colours but no class names or count; "
            "read it with label_set_from_colour_table(path, num_classes, names=...)",
        )
    if suffix not in LABEL_SET_SUFFIXES:
        raise FileProblem(path, f"unknown label-set format {suffix or '(no suffix)'!r}; use .toml, .json or .txt")
    text = _read_text(path)
    try:
        if suffix == ".txt":
            return _from_lines(path, text)
        data = _parse_json(path, text) if suffix == ".json" else _parse_toml(path, text)
        if isinstance(data, list):
            data = {"classes": data}
        if not isinstance(data, dict):
            raise FileProblem(path, "expected a table with a 'classes' list")
        labels = LabelSet.from_mapping(data)
        _refuse_shared_colours(path, labels, _written_colours(data))
        refuse_ignore_colour(labels)  # a ValueError, named with the file below
        return labels
    except FileProblem:
        raise
    except (ValueError, TypeError) as exc:
        raise FileProblem(path, f"not a valid label set: {exc}") from exc


def write_label_set(path: str | Path, labels: LabelSet) -> None:
    """Write ``labels`` as TOML or JSON (by suffix), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    data = labels.to_mapping()
    if suffix == ".toml":
        text = tomli_w.dumps(data)
    elif suffix == ".json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        raise ValueError(f"label sets are written as .toml or .json, not {suffix or 'a name without suffix'!r}")
    write_text_atomic(path, text)


def label_set_from_colour_table(
    path: str | Path,
    num_classes: int,
    names: Sequence[str] | None = None,
    ignore_index: int | None = None,
    *,
    ignore_name: str = "ignore",
) -> LabelSet:
    """Classes ``0..num_classes-1`` coloured by the pixels of a colour table image, in reading order.

    A 256x1 (or 1x256, 16x16...) RGB(A) image: pixel ``i`` in row-major order is the colour of class ``i``;
    alpha is dropped. ``names`` default to ``background, class 1, ...``.
    """
    path = Path(path)
    pixels = read_image(path)
    if pixels.ndim != 3:
        raise FileProblem(path, "a colour table must be an RGB or RGBA image, this one is grey")
    if pixels.dtype != np.uint8:
        raise FileProblem(path, f"a colour table must be 8-bit per channel, this one is {pixels.dtype}")
    try:
        return LabelSet.from_palette(
            pixels.reshape(-1, 3), num_classes, names=names, ignore_index=ignore_index, ignore_name=ignore_name
        )
    except ValueError as exc:
        raise FileProblem(path, str(exc)) from exc


def _written_colours(data: dict[str, object]) -> set[int]:
    """The ids whose entry in the file has a colour (the others get their default colour)."""
    entries = data.get("classes")
    return {
        position
        for position, entry in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and ("colour" in entry or "color" in entry)
    }


def _refuse_shared_colours(path: Path, labels: LabelSet, written: set[int]) -> None:
    """Two classes of one colour cannot be told apart in a colour-coded mask: refuse the file, naming both.

    Only a colour the file chose counts: written, and not just its id's default colour (a file written by
    :func:`write_label_set` spells out every colour, and default colours repeat beyond 256 classes)."""
    defaults = default_colours(labels.num_classes)
    chosen = {i for i in written if labels.classes[i].colour != tuple(int(v) for v in defaults[i])}
    pairs = shared_colours(labels, chosen)
    if not pairs:
        return
    first, second = pairs[0]

    def described(label_id: int, name: str) -> str:
        return f"{name!r} (id {label_id}{'' if label_id in written else ', its default colour'})"

    more = f" ({len(pairs) - 1} more pair(s) share a colour)" if len(pairs) > 1 else ""
    raise FileProblem(
        path,
        f"classes {described(first.id, first.name)} and {described(second.id, second.name)} share the colour "
        f"{colour_to_hex(first.colour)}{more}; a colour mask could not tell them apart: give each class its own colour",
    )


def _read_text(path: Path) -> str:
    if not path.exists():
        raise FileProblem(path, "file not found")
    if path.is_dir():
        raise FileProblem(path, "is a folder, not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileProblem(path, f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise FileProblem(path, "file is empty" if not data else "file holds only blank space")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(path, f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from exc


def _parse_json(path: Path, text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(path, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc


def _parse_toml(path: Path, text: str) -> object:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FileProblem(path, f"not valid TOML: {exc}") from exc


def _from_lines(path: Path, text: str) -> LabelSet:
    names = [line.strip() for line in text.splitlines()]
    names = [name for name in names if name and not name.startswith("#")]
    ignore_index = None
    ignore_name = "ignore"
    if names and names[0] == LABELME_IGNORE:
        names = names[1:]
        ignore_index = LABELME_IGNORE_INDEX
    if LABELME_IGNORE in names:
        raise FileProblem(path, f"{LABELME_IGNORE} must be the first line (labelme's id -1)")
    names = ["background" if name == LABELME_BACKGROUND else name for name in names]
    if not names:
        raise FileProblem(path, "no class names (one name a line)")
    if ignore_index is not None and len(names) > LABELME_IGNORE_INDEX:
        raise FileProblem(path, f"{len(names)} classes leave no room for ignore id {LABELME_IGNORE_INDEX}")
    palette = voc_palette(max(256, len(names)))
    colours = [tuple(int(v) for v in palette[i]) for i in range(len(names))]
    return LabelSet.from_names(
        names, colours=colours, ignore_index=ignore_index, ignore_name=ignore_name  # type: ignore[arg-type]
    )
