"""Identifiers: Unified Social Credit Code (GB 32100-2015), resident ID (GB 11643-1999),
region codes (GB/T 2260), and masking for public views."""

from __future__ import annotations

import re

from qinglu.core.errors import InvalidIdentifier

# Region codes are validated and named from the full list in core.regions.
from qinglu.core.regions import bilingual_name
from qinglu.core.regions import validate_region as validate_region

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100: no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
RID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RID_CHECK = "10X98765432"  # ISO 7064 MOD 11-2 as GB 11643 prints it

COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(code: str) -> str:
    """Return the normalised code or raise InvalidIdentifier naming the fault."""
    value = code.strip().upper()
    if len(value) != 18 or any(c not in USCC_CHARSET for c in value):
        raise InvalidIdentifier(
            f"统一社会信用代码 {code!r} 须为18位（数字及除 I O S V Z 外的大写字母）",
            f"USCC {code!r} must be 18 characters of digits and capitals except I O S V Z",
        )
    expected = uscc_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(
            f"统一社会信用代码 {value} 校验码错误（应为 {expected}）",
            f"USCC {value} has a wrong check character (expected {expected})",
        )
    return value


def resident_id_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, RID_WEIGHTS, strict=True))
    return RID_CHECK[total % 11]


def validate_resident_id(number: str) -> str:
    value = number.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        raise InvalidIdentifier(
            f"公民身份号码 {number!r} 须为17位数字加1位校验码",
            f"resident ID {number!r} must be 17 digits and a check character",
        )
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        raise InvalidIdentifier(
            f"公民身份号码 {value[:6]}… 校验码错误（应为 {expected}）",
            f"resident ID {value[:6]}… has a wrong check character (expected {expected})",
        )
    return value


def region_name(code: str) -> str:
    """"剑河县 Jianhe County" from the full GB/T 2260 list (core.regions)."""
    return bilingual_name(code)


def mask_person_name(name: str) -> str:
    """钟某: surname + 某, as Chinese courts and registries publish people."""
    name = name.strip()
    for surname in COMPOUND_SURNAMES:
        if name.startswith(surname):
            return surname + "某"
    if not name:
        return "某"
    if name[0].isascii():
        return name.split()[0][0] + "."
    return name[0] + "某"


# A run of letters, digits, spaces and dashes holding 7 or more digits: a resident ID
# number (18 or the old 15), a mobile or landline number, a unified social credit code,
# a bank card. Typed into a free-text field, none of them is ever shown to the public.
_IDENTIFIER_RUN = re.compile(r"[0-9A-Za-z+][0-9A-Za-z\- ]{5,}[0-9A-Za-z]")
_IDENTIFIER_MIN_DIGITS = 7
# What people type around an identifier ("身份证 …", "tel: …"): dropped with it.
_IDENTIFIER_WORDS = re.compile(
    r"(身份证号?码?|证件号?码?|手机号?码?|电话号?码?|联系电话|统一社会信用代码|信用代码|"
    r"\b(?:id|tel|phone|mobile|no)\b\.?)", re.IGNORECASE)
_ORGANISATION_WORDS = frozenset({
    "co", "corp", "corporation", "ltd", "limited", "inc", "company", "group", "bank",
    "fund", "llc", "gmbh", "center", "centre", "association", "foundation", "trust"})
WITHHELD = "（证件号已隐去 identifier withheld）"


def contains_identifier(text: str) -> bool:
    """Whether free text holds something that looks like an ID, phone or credit code."""
    return any(sum(c.isdigit() for c in m.group()) >= _IDENTIFIER_MIN_DIGITS
               for m in _IDENTIFIER_RUN.finditer(text))


def _without_identifiers(text: str) -> str:
    def drop(match: re.Match[str]) -> str:
        digits = sum(c.isdigit() for c in match.group())
        return " " if digits >= _IDENTIFIER_MIN_DIGITS else match.group()

    text = _IDENTIFIER_WORDS.sub(" ", _IDENTIFIER_RUN.sub(drop, text))
    text = re.sub(r"[（(][\s:：,，;；]*[)）]", " ", text)  # brackets left empty
    return re.sub(r"\s+", " ", text).strip(" :：,，;；()（）")


def _looks_personal(name: str) -> bool:
    """Short all-Chinese names are people's (organisations' names are longer); so are
    two or three words of letters with no company word among them (a name in pinyin)."""
    if 2 <= len(name) <= 4 and all("\u4e00" <= c <= "\u9fff" for c in name):
        return True
    words = name.replace(".", " ").split()
    return (2 <= len(words) <= 3 and all(w.isascii() and w.isalpha() for w in words)
            and not any(w.lower() in _ORGANISATION_WORDS for w in words))


def public_beneficiary(name: str) -> str:
    """A retirement's beneficiary as the public registry shows it (pages, API, CSV,
    certificates): the one masking rule. The field is free text: a person's name shows
    as surname + 某 (in pinyin, its initial), and an ID number, phone number or credit
    code typed into it is withheld, whoever it belongs to."""
    stripped = name.strip()
    withheld = contains_identifier(stripped)
    if withheld:
        stripped = _without_identifiers(stripped)
    shown = mask_person_name(stripped) if _looks_personal(stripped) else stripped
    return f"{shown}{WITHHELD}" if withheld else shown


def mask_id_number(number: str) -> str:
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]
