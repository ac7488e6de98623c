"""Domain errors. Each carries a message in Chinese with English beside it.

The CLI prints the message on one line; the API maps `status` to an RFC 9457
problem+json response.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager


class QingluError(Exception):
    """Base of every refusal the application explains to a person."""

    status = 400
    code = "invalid-request"

    def __init__(self, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.zh = zh
        self.en = en

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"


class InvalidInput(QingluError):
    status = 422
    code = "invalid-input"


class InvalidQuantity(InvalidInput):
    code = "invalid-quantity"


class InvalidIdentifier(InvalidInput):
    code = "invalid-identifier"


class InvalidSerial(InvalidInput):
    code = "invalid-serial"


class NotFound(QingluError):
    status = 404
    code = "not-found"


class UnknownAccount(NotFound):
    code = "unknown-account"


class UnknownHolder(NotFound):
    code = "unknown-holder"


class UnknownProject(NotFound):
    code = "unknown-project"


class UnknownProduct(NotFound):
    code = "unknown-product"


class UnknownHold(NotFound):
    code = "unknown-hold"


class Conflict(QingluError):
    status = 409
    code = "conflict"


class InsufficientUnits(Conflict):
    code = "insufficient-units"


class NotTradable(Conflict):
    """A product's rules forbid the move (not tradable, expired, out of its scope)."""

    code = "not-tradable"


class AccountKindNotAllowed(Conflict):
    code = "account-kind-not-allowed"


class InvalidTransition(Conflict):
    code = "invalid-transition"


class IdempotencyConflict(Conflict):
    code = "idempotency-conflict"


class NotAuthenticated(QingluError):
    status = 401
    code = "not-authenticated"


class Forbidden(QingluError):
    status = 403
    code = "forbidden"


class TooManyAttempts(QingluError):
    status = 429
    code = "too-many-attempts"


def require_text(field: str, value: object, limit: int = 200) -> str:
    """A required free-text field, stripped, refused when empty or longer than `limit`."""
    text = str(value or "").strip()
    zh, en = field_names(field)
    if not text:
        raise InvalidInput(f"{zh} 不能为空", f"{en} must not be empty")
    if len(text) > limit:
        raise InvalidInput(f"{zh} 过长（最多{limit}字）", f"{en} is too long (max {limit})")
    return text


def field_names(field: str) -> tuple[str, str]:
    """A field named "受益人 beneficiary": its Chinese name for the Chinese message and its
    English one for the English message, so that each reads in one language."""
    head, _, tail = field.partition(" ")
    if tail and any("\u4e00" <= c <= "\u9fff" for c in head) \
            and not any("\u4e00" <= c <= "\u9fff" for c in tail):
        return head, tail
    return field, field


def choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    """One of a closed list of codes, refused with the list when it is not."""
    if value not in allowed:
        zh, en = field_names(field)
        raise InvalidInput(f"{zh} {value!r} 无效（可选 {', '.join(allowed)}）",
                           f"{en} {value!r} is not one of {', '.join(allowed)}")
    return value


class FileRefused(InvalidInput):
    """An imported file refused as a whole: `problems` names each bad row (where, why),
    and nothing was written. Subclasses name what was imported."""

    code = "import-refused"
    what_zh, what_en = "导入", "import"

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        shown = "; ".join(f"{where}: {reason}" for where, reason in problems[:20])
        more = f" (+{len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{self.what_zh}被拒绝，无任何写入：{shown}{more}",
                         f"{self.what_en} refused, nothing written: {shown}{more}")
        self.problems = problems


# What file readers raise for a file they cannot read: pyogrio's errors are RuntimeErrors;
# bad JSON, a wrong encoding or an unreadable number ValueErrors; an unknown encoding a
# LookupError; a missing file an OSError; a malformed CSV csv.Error.
UNREADABLE_FILE_ERRORS = (OSError, ValueError, RuntimeError, LookupError, csv.Error)


@contextmanager
def reading(name: str, refusal: type[FileRefused] = FileRefused) -> Iterator[None]:
    """Read a file inside this: a reader's error refuses the file in one line naming it
    (`broken.shp: unreadable: DataSourceError: ... not recognized ...`) instead of a
    traceback; our own refusals pass through unchanged."""
    try:
        yield
    except QingluError:
        raise
    except UNREADABLE_FILE_ERRORS as exc:
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise refusal([(name, f"无法读取 unreadable: {type(exc).__name__}: {first}")]) from None
