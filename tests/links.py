"""The `Link: <...>; rel="next"` header the paged lists answer with (core.paging)."""

from __future__ import annotations

import re

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_link(response: object) -> str | None:
    """The next page's address, or None on the last page; a malformed header fails."""
    header = response.headers.get("link")  # type: ignore[attr-defined]
    if header is None:
        return None
    match = LINK.match(header)
    assert match, header
    return match["url"]
