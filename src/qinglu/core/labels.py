"""One vocabulary: the Chinese and English label of every code shown to people.

Statuses, stages, kinds, roles, product codes, methods: each is a row of
`data/labels.csv` (group, code, zh, en), the one table pages, PDFs and the CLI read.
A code is looked up within its group ("pending" is an order awaiting payment but a
hold awaiting settlement); without a group, a code whose label is the same in every
group it appears in is found, and an ambiguous or unknown one is returned as it is
(the page walk in tests/web/test_i18n_walk.py fails on such a bare code).

Times: stored in UTC, shown in China Standard Time with the zone written out.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "labels.csv"
Label = tuple[str, str]  # (zh, en)

# China has kept UTC+8 without daylight saving since 1991: a fixed offset gives the
# same answer as Asia/Shanghai from the tz database, without depending on the system's
# copy of that database (absent on slim containers).
SHANGHAI = timezone(timedelta(hours=8), "CST")


@cache
def table() -> dict[tuple[str, str], Label]:
    """(group, code) -> (zh, en), read once from the data file."""
    with DATA.open(encoding="utf-8", newline="") as handle:
        return {(row["group"], row["code"]): (row["zh"], row["en"])
                for row in csv.DictReader(handle)}


@cache
def _unqualified() -> dict[str, Label | None]:
    """code -> its label when every group that has the code labels it alike, else None."""
    found: dict[str, Label | None] = {}
    for (_group, code), pair in table().items():
        found[code] = pair if found.get(code, pair) == pair else None
    return found


def group_codes(group: str) -> list[str]:
    return [code for (g, code) in table() if g == group]


def lookup(code: str, group: str | None = None) -> Label | None:
    if group is not None:
        pair = table().get((group, code))
        if pair is not None:
            return pair
    return _unqualified().get(code)


def label(code: object, lang: str, group: str | None = None) -> str:
    """The label of `code` in `lang` ("zh" or "en"); the code itself when it has none."""
    if code is None or code == "":
        return "—"
    pair = lookup(str(code), group)
    if pair is None:
        return str(code)
    return pair[1] if lang == "en" else pair[0]


def has_cjk(text: str) -> bool:
    return any("\u4e00" <= c <= "\u9fff" for c in text)


def bilingual(code: str, group: str | None = None) -> str:
    """"中文 English", as PDFs and the CLI print a code."""
    pair = lookup(code, group)
    return f"{pair[0]} {pair[1]}" if pair else code


def as_shanghai(value: datetime | date | str) -> datetime | date:
    """A stored time (aware, or naive meaning UTC as SQLite returns it; or its ISO
    text) in China Standard Time; a date is a date and stays one."""
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        value = datetime.fromisoformat(text) if ("T" in text or " " in text) \
            else date.fromisoformat(text)
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(SHANGHAI)


def local_time(value: datetime | date | str | None, lang: str = "zh") -> str:
    """"2026-12-01 08:40 CST (UTC+8)": minutes, Shanghai time, the zone named."""
    if value is None or value == "":
        return "—"
    moment = as_shanghai(value)
    if not isinstance(moment, datetime):
        return moment.isoformat()
    zone = "北京时间 (UTC+8)" if lang == "zh" else "CST (UTC+8)"
    return f"{moment:%Y-%m-%d %H:%M} {zone}"
