"""Verification pages: where a certificate's QR code leads."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import HTMLResponse

from qinglu.documents import actions as documents
from qinglu.web.pages import SessionDep, UserDep, render

router = APIRouter(include_in_schema=False)


_VERIFY_ADDRESS = re.compile(r"/verify/([^/?#\s]+)")


def typed_certificate_number(text: str) -> str:
    """A certificate number as people enter it: typed in lower case or full-width, with
    spaces, or a whole verification address pasted (a QR code's text): its number."""
    raw = unicodedata.normalize("NFKC", text).strip()
    found = _VERIFY_ADDRESS.search(raw)
    if found:
        raw = unquote(found.group(1))
    return "".join(raw.split()).upper()


@router.get("/verify", response_class=HTMLResponse)
def verify_form(request: Request, session: SessionDep, user: UserDep,
                number: str = "") -> HTMLResponse:
    wanted = typed_certificate_number(number)
    result = _verify(request, session, wanted, None) if wanted else None
    return render(request, "verify.html", user, number=wanted or number, result=result)


@router.get("/verify/{number}", response_class=HTMLResponse)
def verify_link(request: Request, number: str, session: SessionDep, user: UserDep,
                p: str | None = None) -> HTMLResponse:
    """Where a certificate's QR code leads: the number and its signed payload."""
    return render(request, "verify.html", user, number=number,
                  result=_verify(request, session, number, p))


@router.get("/ledger/checkpoints", response_class=HTMLResponse)
def checkpoints_page(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    """The public log: the registry's signed checkpoints and how to check them."""
    log = documents.ledger_checkpoints(session, request.app.state.registry_key)
    return render(request, "checkpoints.html", user, log=log)


# A certificate PDF is some 100 kB; anything far larger is not one of ours.
MAX_UPLOAD = 5 * 1024 * 1024


@router.post("/verify/file", response_class=HTMLResponse)
def verify_upload(request: Request, session: SessionDep, user: UserDep,
                  file: UploadFile = File(...)) -> HTMLResponse:
    """An uploaded PDF: the file the registry issued, or what differs."""
    data = file.file.read(MAX_UPLOAD + 1)
    result = documents.verify_upload(session, request.app.state.registry_key, data,
                                     MAX_UPLOAD)
    return render(request, "verify.html", user, number=result.number or "", result=result,
                  uploaded=file.filename or "")


def _verify(request: Request, session: SessionDep, number: str,
            payload: str | None) -> documents.Verification:
    return documents.verify_certificate(session, request.app.state.registry_key, number=number,
                                      payload=payload)


