"""Certificates and vouchers: look-up, verification, PDFs, and the registry's public key."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, File, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey
from qinglu.web.auth import OperatorDep, SessionDep
from qinglu.web.deps import PlainReadRoute, hot_read, json_response
from qinglu.web.problems import PROBLEM_RESPONSES
from qinglu.web.schemas import Id, IdempotencyKey

CHECKPOINT_SECONDS = 60
logger = logging.getLogger(__name__)


@asynccontextmanager
async def checkpoint_while_serving(app: FastAPI) -> AsyncIterator[None]:
    """While serving, sign and publish a checkpoint of the ledger head about every minute
    (when it has moved): the public log follows the ledger without anyone asking."""

    def publish() -> None:
        with app.state.session_factory() as session:
            documents.ledger_checkpoints(session, app.state.registry_key)

    async def loop() -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                await asyncio.to_thread(publish)
            except Exception:  # keep serving; the next round tries again
                logger.exception("ledger checkpoint failed")

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()


# Its lifespan is merged into the application's wherever the router is included.
router = APIRouter(tags=["certificates"], responses=PROBLEM_RESPONSES,
                   lifespan=checkpoint_while_serving)
# Verification, the busiest public read: a plain read route of the application's own.
hot_router = APIRouter(prefix="/api/v1", tags=["certificates"], responses=PROBLEM_RESPONSES,
                       route_class=PlainReadRoute)
Number = Annotated[str, Query(min_length=1, max_length=40)]


def registry_key(request: Request) -> RegistryKey:
    key: RegistryKey = request.app.state.registry_key
    return key


@router.get("/keys")
def keys(request: Request) -> dict[str, Any]:
    """The registry's public keys: the Ed25519 key of the QR payloads and checkpoints (a
    JWK set), and the certificate of the PDF signatures with its SHA-256 fingerprint."""
    return documents.published_keys(registry_key(request))


@router.get("/ledger/checkpoints")
def ledger_checkpoints(request: Request, session: SessionDep) -> dict[str, Any]:
    """Signed checkpoints of the ledger head (origin, sequence, hash, time), oldest first:
    keep a copy, and `qinglu audit verify --against` it to catch a rewrite or a restore."""
    return documents.ledger_checkpoints(session, registry_key(request))


@router.get("/certificates/{number}")
def certificate(number: str, session: SessionDep) -> dict[str, Any]:
    return documents.certificate_view(session, number)


class VerificationOut(BaseModel):
    number: str | None
    valid: bool
    problems: list[str]
    facts: dict[str, Any] | None
    statement: dict[str, str] | None = None
    file: dict[str, Any] | None = None


@hot_router.get("/certificates/{number}/verify", response_model=VerificationOut)
async def verify(number: str, request: Request,
                 payload: Annotated[str | None, Query(alias="p", max_length=8000)] = None
                 ) -> Response:
    """Valid, or what does not match. `p` is the signed payload from the QR code."""
    key = registry_key(request)
    result = await hot_read(request, lambda: documents.certificate_verification(
        key, number=number, payload=payload))
    return json_response(result.as_dict())


# A certificate PDF is some 100 kB; anything far larger is not one of ours.
MAX_UPLOAD = 5 * 1024 * 1024


@router.post("/certificates/file-verification", response_model=VerificationOut)
def verify_file(request: Request, session: SessionDep,
                file: UploadFile = File(...)) -> dict[str, Any]:
    """A PDF as presented: the file the registry issued (signature valid, SHA-256 on
    record, facts matching the ledger now), or exactly what differs."""
    data = file.file.read(MAX_UPLOAD + 1)
    return documents.verify_upload(session, registry_key(request), data, MAX_UPLOAD).as_dict()


@router.get("/certificates/{number}/pdf", response_class=Response,
            responses={200: {"content": {"application/pdf": {}}}})
def certificate_pdf(number: str, request: Request, session: SessionDep) -> Response:
    """The document's PDF, signed (PAdES); its links use the address this request reached
    unless QINGLU_BASE_URL is configured."""
    data = documents.certificate_pdf(session, number, str(request.base_url))
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{number}.pdf"'})


@router.post("/retirements/{retirement_id}/certificate", status_code=201)
def certify_retirement(retirement_id: Id, request: Request, session: SessionDep,
                       who: OperatorDep, key: IdempotencyKey = None) -> dict[str, Any]:
    """Issue the certificate of a retirement recorded without one (operators only)."""
    return documents.certify_retirement(session, registry_key(request),
                                        retirement_id=retirement_id, actor=who.actor,
                                        idempotency_key=key)
