"""GB/T 2260 region codes: the full county-level list (data/regions.csv, its source and
licence in data/README.md), to validate a code and to name it."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from qinglu.core.errors import InvalidIdentifier

DATA = Path(__file__).parent / "data" / "regions.csv"


@dataclass(frozen=True)
class Region:
    code: str
    level: str  # province | prefecture | county
    zh: str
    en: str


@cache
def regions() -> dict[str, Region]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        return {row["code"]: Region(row["code"], row["level"], row["zh"], row["en"])
                for row in csv.DictReader(handle)}


@cache
def _by_name() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for region in regions().values():
        found.setdefault(region.zh, []).append(region.code)
    return found


def code_for_name(name: str) -> str:
    """The code of a place typed by its Chinese name ("剑河县"); a name that several
    places share ("朝阳区") is refused naming each of them with its code."""
    codes = _by_name().get(name.strip(), [])
    if len(codes) == 1:
        return codes[0]
    if not codes:
        raise InvalidIdentifier(f"没有名为 {name!r} 的行政区划", f"no region is named {name!r}")
    zh = "、".join(f"{c} {place_name(c)}" for c in codes[:8])
    en = "; ".join(f"{c} {place_name(c, 'en')}" for c in codes[:8])
    raise InvalidIdentifier(f"{name} 有多处，请填代码：{zh}",
                            f"several regions are named {name}; give the code: {en}")


def validate_region(code: str) -> str:
    """The code, stripped, when it is a province, prefecture or county of the list; a
    place's Chinese name is taken for its code when only one place has it."""
    value = (code or "").strip()
    if value and not value.isdigit() and any("\u4e00" <= c <= "\u9fff" for c in value):
        return code_for_name(value)
    if not re.fullmatch(r"\d{6}", value):
        raise InvalidIdentifier(
            f"行政区划代码 {code!r} 须为6位数字（GB/T 2260）",
            f"region {code!r} must be a 6-digit GB/T 2260 code",
        )
    if value not in regions():
        raise InvalidIdentifier(
            f"行政区划代码 {value} 不在 GB/T 2260 县级以上行政区划表中",
            f"region {value} is not in the GB/T 2260 list of counties, prefectures "
            "and provinces",
        )
    return value


def _chain(code: str) -> list[Region]:
    """The region, then its prefecture and province (those the list has)."""
    known = regions()
    codes = [code, code[:4] + "00", code[:2] + "0000"]
    found: list[Region] = []
    for c in codes:
        region = known.get(c)
        if region is not None and region not in found:
            found.append(region)
    return found


def place_name(code: str, lang: str = "zh") -> str:
    """"剑河县（贵州省黔东南苗族侗族自治州）" or "Jianhe County, Guizhou Province";
    a code not in the list is shown as it is."""
    chain = _chain(code)
    if not chain or chain[0].code != code:
        return code
    own, parents = chain[0], chain[1:]
    if lang == "en":
        return ", ".join([own.en, *(p.en for p in parents[-1:])])
    outer = "".join(p.zh for p in reversed(parents))
    return f"{own.zh}（{outer}）" if outer else own.zh


def bilingual_name(code: str) -> str:
    """"剑河县 Jianhe County", as PDFs print a place; the code when it is not listed."""
    region = regions().get(code)
    return f"{region.zh} {region.en}" if region else code
