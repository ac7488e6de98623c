"""QR codes that carry a verification URL with the signed payload."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, quote, urlparse

import segno


def verification_url(base_url: str, number: str, payload: str) -> str:
    return f"{base_url.rstrip('/')}/verify/{quote(number, safe='')}?p={payload}"


def parse_verification_url(url: str) -> tuple[str, str | None]:
    parsed = urlparse(url)
    number = parsed.path.rstrip("/").rsplit("/", 1)[-1]
    payload = parse_qs(parsed.query).get("p", [None])[0]
    return number, payload


def qr_png(text: str, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
