"""PDFs use the simplified-Chinese face of Noto Sans CJK wherever it comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools import ttLib

from qinglu.documents import fonts


def _family(choice: fonts.FontChoice) -> str:
    if choice.path.suffix.lower() in (".ttc", ".otc"):
        collection = ttLib.TTCollection(choice.path, lazy=True)
        return str(collection.fonts[choice.collection_index]["name"].getDebugName(1))
    return str(ttLib.TTFont(choice.path, lazy=True)["name"].getDebugName(1))


def test_default_font_is_the_simplified_chinese_face() -> None:
    assert _family(fonts.find_cjk_font()) == "Noto Sans CJK SC"


def test_packaged_collection_is_used_without_debian_fonts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "DEBIAN_COLLECTION", Path("/nonexistent/font.ttc"))
    choice = fonts.find_cjk_font()
    assert "noto_cjk_sans_otc" in str(choice.path)
    assert _family(choice) == "Noto Sans CJK SC"


def test_configured_font_that_is_missing_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGLU_CJK_FONT", "/nonexistent/font.otf")
    with pytest.raises(fonts.FontNotFound):
        fonts.find_cjk_font()
