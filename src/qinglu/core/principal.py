"""Who is asking: every action takes a principal and decides what it may see and do."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Principal:
    """Who is asking: a signed-in user, or the anonymous public (user_id None)."""

    user_id: int | None
    name: str
    role: str | None
    holder_id: int | None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.name}" if self.role else "public"


ANONYMOUS = Principal(None, "public", None, None)
