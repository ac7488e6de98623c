"""Domain errors. Each carries a message in Chinese with English beside it.

The CLI prints the message on one line; the API maps `status` to an RFC 9457
problem+json response.
"""

from __future__ import annotations


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
