"""Where the CJK font for PDFs comes from.

Order: QINGLU_CJK_FONT (a path, optionally "path#index" for a collection); Debian's
Noto Sans CJK collection when installed; else the same collection (Noto Sans CJK
2.004) that the pinned PyPI package `noto-cjk-sans-otc` installs with Qinglu, so a
fresh machine needs nothing by hand. In both the simplified-Chinese face is used.
Noto CJK is under the SIL Open Font License 1.1; fpdf2 embeds only the subset a
document uses.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

DEBIAN_COLLECTION = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
DEBIAN_SC_INDEX = 2  # JP, KR, SC, TC, HK order in Noto Sans CJK collections
PACKAGE = "noto_cjk_sans_otc"
PACKAGE_FILE = "NotoSansCJK-Regular.ttc"
PACKAGE_SC_INDEX = DEBIAN_SC_INDEX  # same collection; tests check the face's name


class FontNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class FontChoice:
    path: Path
    collection_index: int = 0


def find_cjk_font() -> FontChoice:
    configured = os.environ.get("QINGLU_CJK_FONT")
    if configured:
        path, _, index = configured.partition("#")
        if not Path(path).is_file():
            raise FontNotFound(f"QINGLU_CJK_FONT={configured} is not a file")
        return FontChoice(Path(path), int(index or 0))
    if DEBIAN_COLLECTION.is_file():
        return FontChoice(DEBIAN_COLLECTION, DEBIAN_SC_INDEX)
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.origin:
        packaged = Path(spec.origin).parent / PACKAGE_FILE
        if packaged.is_file():
            return FontChoice(packaged, PACKAGE_SC_INDEX)
    raise FontNotFound(
        "未找到中文字体 no CJK font: reinstall Qinglu (pip install -e .) so that "
        "noto-cjk-sans-otc is present, install Debian's fonts-noto-cjk, or set QINGLU_CJK_FONT"
    )
