"""Rebuild regions.csv from the npm package china-division (run by hand, not at run time):

    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    pip install pypinyin==0.55.0
    python -m qinglu.core.data.build_regions package/dist > src/qinglu/core/data/regions.csv

The package's provinces.csv, cities.csv and areas.csv hold the province-, prefecture- and
county-level codes (2, 4 and 6 digits). The English name is the pinyin of the name
without its administrative suffix (pypinyin; checked by hand only for the demo's
regions), then the suffix in English."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

# Longest first: "自治县" before "县".
SUFFIXES = (
    ("特别行政区", "SAR"), ("自治州", "Autonomous Prefecture"),
    ("自治县", "Autonomous County"), ("自治旗", "Autonomous Banner"),
    ("自治区", "Autonomous Region"), ("林区", "Forest District"), ("特区", "Special District"),
    ("新区", "New Area"), ("地区", "Prefecture"), ("省", "Province"), ("市", "City"),
    ("县", "County"), ("区", "District"), ("旗", "Banner"), ("盟", "League"),
)
# Provinces, Hong Kong, Macao and Taiwan: GB/T 2260 codes the package does not list.
EXTRA = (("710000", "台湾省"), ("810000", "香港特别行政区"), ("820000", "澳门特别行政区"))


def english(name: str) -> str:
    from pypinyin import lazy_pinyin  # a build-time tool only

    for zh, en in SUFFIXES:
        if name.endswith(zh) and len(name) > len(zh) + 0:
            stem = name[: -len(zh)]
            if len(stem) >= 1:
                return f"{''.join(lazy_pinyin(stem)).capitalize()} {en}"
    return "".join(lazy_pinyin(name)).capitalize()


def rows(dist: Path) -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for file, level, width in (("provinces.csv", "province", 2),
                               ("cities.csv", "prefecture", 4), ("areas.csv", "county", 6)):
        with (dist / file).open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row["name"] in ("市辖区", "县", "省直辖县级行政区划",
                                   "自治区直辖县级行政区划"):
                    continue  # placeholders for "directly administered", not places
                code = row["code"].ljust(6, "0")
                assert len(row["code"]) == width, row
                found.append((code, level, row["name"], english(row["name"])))
    found += [(code, "province", name, english(name)) for code, name in EXTRA]
    # A prefecture without counties (东莞市 441900) is listed at both levels: keep one.
    first: dict[str, tuple[str, str, str, str]] = {}
    for entry in found:
        first.setdefault(entry[0], entry)
    return sorted(first.values())


def main() -> None:
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("code", "level", "zh", "en"))
    out.writerows(rows(Path(sys.argv[1])))


if __name__ == "__main__":
    main()
