"""`qinglu certificate ...`: verify a certificate or voucher, write its PDF, or issue the
certificate of a retirement recorded without one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qinglu.cli_common import (
    DbOption,
    JsonOption,
    KeyOption,
    actor,
    console,
    emit,
    fail,
    handle_errors,
    session_for,
)
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key

BaseUrlOption = Annotated[str | None, typer.Option(
    "--base-url", help="链接与二维码的公开地址 / public address for links and the QR "
    "(default: QINGLU_BASE_URL)")]

app = typer.Typer(help="证书 Certificates and vouchers", no_args_is_help=True)


def _names_a_file(reference: str) -> bool:
    """The argument is a file path, not a number or a QR URL: it ends in .pdf (any case)
    or holds a path separator. Certificate numbers hold neither."""
    if reference.startswith(("http://", "https://")):
        return False
    return reference.lower().endswith(".pdf") or "/" in reference or "\\" in reference


@app.command("verify")
@handle_errors
def verify(
    reference: Annotated[str, typer.Argument(
        help="编号、PDF 文件或二维码网址 / number, PDF or QR URL")],
    offline: Annotated[bool, typer.Option(
        "--offline", help="离线核验二维码内容 / check a scanned QR text with --key, no network")
    ] = False,
    public_key: Annotated[Path | None, typer.Option(
        "--key", exists=True, dir_okay=False,
        help="公布的公钥文件（/api/v1/keys 的 JSON 或 PEM）/ the published key")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """核验 Verify a certificate: exit 0 only when it is valid, else say what differs.

    A PDF is checked as a file: its PAdES signature, its SHA-256 against the files the
    registry issued, then its facts against the ledger now. With --offline the argument
    is the QR code's text, checked with the published key alone."""
    if offline:
        if public_key is None:
            raise fail("--offline 需要 --key / --offline needs --key FILE")
        check = documents.verify_qr_offline(reference, public_key.read_bytes())
        emit(check.as_dict(), as_json, "离线核验 Offline check")
        if not check.valid:
            raise fail("; ".join(check.problems))
        return
    path = Path(reference)
    if _names_a_file(reference) and not path.is_file():
        if path.is_dir():
            raise fail(f"{reference} 是文件夹，不是文件 / {reference} is a directory, not a file")
        raise fail(f"找不到文件 {reference} / file not found: {reference}")
    with session_for(db) as session:
        if path.suffix.lower() == ".pdf" and path.is_file():
            result = documents.verify_file(session, load_or_create_key(), path.read_bytes())
        else:
            number, payload = documents.resolve(reference)
            result = documents.verify_certificate(session, load_or_create_key(),
                                                  number=number, payload=payload)
        documents.check_in_log(session, result)  # its entry in its checkpoint's tree
    if as_json:
        emit(result.as_dict(), True)
    elif result.valid:
        console.print(f"[green]有效 VALID[/green] {result.number}")
        if result.statement:
            console.print(result.statement["zh"])
            console.print(result.statement["en"])
    if not result.valid:
        raise fail(f"{result.number}: " + "; ".join(result.problems))


@app.command("qr")
@handle_errors
def qr_text(
    number: Annotated[str, typer.Argument(help="编号 / certificate number")],
    base_url: BaseUrlOption = None,
    db: DbOption = None,
) -> None:
    """二维码内容 Print exactly what a document's QR code holds."""
    with session_for(db) as session:
        console.print(documents.document_qr_text(session, number, base_url), soft_wrap=True)


@app.command("pdf")
@handle_errors
def write_pdf(
    number: Annotated[str, typer.Argument(help="编号 / certificate number")],
    out: Annotated[Path | None, typer.Option("--out", help="输出文件夹 / folder")] = None,
    base_url: BaseUrlOption = None,
    db: DbOption = None,
) -> None:
    """生成 PDF Write a certificate's or voucher's signed PDF."""
    with session_for(db) as session:
        path = documents.write_certificate_pdf(session, number, out, base_url)
    console.print(documents.address_note(base_url))
    console.print(str(path))


@app.command("issue")
@handle_errors
def issue(
    retirement: Annotated[int, typer.Argument(help="注销 id / retirement id")],
    out: Annotated[Path | None, typer.Option("--out", help="PDF 文件夹 / folder")] = None,
    base_url: BaseUrlOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    key: KeyOption = None,
) -> None:
    """签发注销证明 Issue the certificate of a retirement recorded without one."""
    with session_for(db) as session:
        result = documents.certify_retirement(session, load_or_create_key(),
                                              retirement_id=retirement, actor=actor(),
                                              idempotency_key=key)
        path = documents.write_certificate_pdf(session, result["certificate_number"], out,
                                               base_url)
    emit({**result, "pdf": str(path), "links": documents.address_note(base_url)}, as_json,
         "注销证明 Retirement certificate")
