"""Keyset pages of a public list: `after` is the last id the reader saw, `limit` how many
rows to show. A page is then one index range (`id > after ORDER BY id LIMIT n`) however
long the list, and the same page whatever is added after it; an offset would make the
database walk every row before the page and shift when rows are added.

The address carries both (`?after=N&limit=M`); what it carries is read here, once, for
every list: absent or empty means from the start and the list's own default size;
anything else than a whole number in range is refused, never guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qinglu.core.errors import InvalidInput

MAX_LIMIT = 500
# Ids are 32-bit integers (as the API's paths take them): a larger `after` is a mistake,
# not a position.
MAX_ID = 2_147_483_647
_WHOLE = re.compile(r"[0-9]{1,10}")
# How much of a refused value a message repeats (an address can be long).
_ECHO = 32


@dataclass(frozen=True)
class Paging:
    after: int
    limit: int

    def next_after(self, ids: list[int]) -> int | None:
        """The `after` of the next page, given the ids read with `limit + 1` (one more
        than shown, so that a next page is offered only when there is one)."""
        return ids[self.limit - 1] if len(ids) > self.limit else None


def read_paging(after: str | None, limit: str | None, default_limit: int) -> Paging:
    """The page an address asks for, or a refusal naming the value and what it may be."""
    return Paging(after=_read_after(after), limit=_read_limit(limit, default_limit))


def _echo(text: str) -> str:
    return text if len(text) <= _ECHO else text[:_ECHO] + "…"


def _read_after(text: str | None) -> int:
    if not text:
        return 0
    if _WHOLE.fullmatch(text) and int(text) <= MAX_ID:
        return int(text)
    raise InvalidInput(
        f"after 须为 0 至 {MAX_ID} 的整数（上一页最后一项的编号）：“{_echo(text)}”",
        f"after must be a whole number from 0 to {MAX_ID} (the id of the previous "
        f"page's last row): “{_echo(text)}”")


def _read_limit(text: str | None, default: int) -> int:
    if not text:
        return default
    if _WHOLE.fullmatch(text) and 1 <= int(text) <= MAX_LIMIT:
        return int(text)
    raise InvalidInput(
        f"limit 须为 1 至 {MAX_LIMIT} 的整数（每页条数）：“{_echo(text)}”",
        f"limit must be a whole number from 1 to {MAX_LIMIT} (rows per page): “{_echo(text)}”")
