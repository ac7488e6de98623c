"""A PDF is signed and checked from a thread whose event loop is running (an async
endpoint, a test driving a browser): pyHanko's synchronous calls start a loop of their
own, which Python refuses there."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fpdf import FPDF

from qinglu.documents.pdfsign import check_pdf, load_or_create_pdf_key


def test_signing_and_checking_inside_a_running_loop(tmp_path: Path) -> None:
    key = load_or_create_pdf_key(tmp_path)
    page = FPDF()
    page.add_page()
    unsigned = bytes(page.output())

    async def sign_and_check() -> bool:
        signed = key.sign(unsigned)
        check = check_pdf(signed, key)
        return check.signed and check.ours and check.intact and check.whole_file

    assert asyncio.run(sign_and_check())
