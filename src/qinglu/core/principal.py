"""Who is asking: every action takes a principal and decides what it may see and do."""

from __future__ import annotations

from dataclasses import dataclass

from qinglu.core.errors import Forbidden, NotAuthenticated


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


Actor = str | Principal


def actor_for(who: Actor, roles: tuple[str, ...]) -> str:
    """The actor a write records, once a signed-in caller's role is checked; a plain name
    is a trusted console (the command line, the demo loader, a scheduled job)."""
    if isinstance(who, str):
        return who
    if who.role is None:
        raise NotAuthenticated("请先登录", "sign in first")
    if who.role not in roles:
        raise Forbidden(f"角色 {who.role} 无权执行此操作", f"role {who.role} may not do this")
    return who.actor
