"""Statements: a section's month (QL-BM-…) and a pair's year (QL-BS-…), signed with the
registry's Ed25519 key like every Qinglu document, as PDF (Chinese with English beside
it, QR code to the statement's verification page) and as CSV.

The signed facts are the statement's summary: parties, amounts, version, the statement
it supersedes, and the SHA-256 of its lines (each line names the rule and the monitoring
row version or monthly statement it came from), so the QR stays small while every line
is covered by the signature. Verification re-derives the lines from the rows now in the
database and says what no longer matches.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from qinglu.basins.models import (
    Assessment,
    Basin,
    BasinParty,
    BasinSection,
    MonitoringRow,
    Settlement,
)
from qinglu.core.money import cny_capital
from qinglu.documents import pdf
from qinglu.documents.actions import ISSUER, base_url
from qinglu.documents.signing import RegistryKey, encode_payload
from qinglu.methods.basin_units import yuan_text

if TYPE_CHECKING:
    from qinglu.basins.assessment import PairLines

EXAMPLE_MARK = "示例 example"  # in the signed facts; the PDF spells it out
EXAMPLE_NOTE = ("示例数据：断面与金额为演示用例，非协议原文（2023 年办法的金额未公开）/ "
                "example figures: sections and amounts illustrate the method; they are not "
                "the agreement's own (the 2023 rules' amounts are not published)")
KIND_TITLES = {"basin_month": ("流域横向生态补偿月度核算单",
                               "Basin Compensation Monthly Statement"),
               "basin_settlement": ("流域横向生态补偿年度清算单",
                                    "Basin Compensation Yearly Settlement")}


def pending_number() -> str:
    """A unique placeholder until the row's id gives the number."""
    return f"pending-{uuid.uuid4().hex[:24]}"


def digest(items: Iterable[Any]) -> str:
    text = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def party_label(party: BasinParty) -> str:
    return f"{party.name} ({party.region})"


def _direction(to_first: int, first: str, second: str) -> tuple[str, str]:
    """(payer, payee) of an amount that `first` receives when positive."""
    if to_first > 0:
        return second, first
    if to_first < 0:
        return first, second
    return "", ""


def sign_month(key: RegistryKey, statement: Assessment, *, basin: Basin, section: BasinSection,
               upstream: BasinParty, downstream: BasinParty, row: MonitoringRow,
               supersedes: str | None) -> None:
    statement.number = f"QL-BM-{statement.period.year}-{statement.id:06d}"
    payer, payee = _direction(statement.to_upstream, party_label(upstream),
                              party_label(downstream))
    example = section.example or any(line.get("example") for line in statement.lines)
    facts: dict[str, Any] = {
        "number": statement.number, "kind": "basin_month",
        "basin": f"{basin.name} ({basin.code})", "section": f"{section.code} {section.name}",
        "period": f"{statement.period:%Y-%m}", "version": statement.version,
        "upstream": party_label(upstream), "downstream": party_label(downstream),
        "payer": payer, "payee": payee, "amount_yuan": yuan_text(abs(statement.to_upstream)),
        "monitoring": f"#{row.id} v{row.version}", "lines": len(statement.lines),
        "lines_sha256": digest(statement.lines), "supersedes": supersedes or "",
        "note": EXAMPLE_MARK if example else "", "date": date.today().isoformat(),
        "issuer": ISSUER,
    }
    statement.facts, statement.signature = facts, key.sign(facts)


def sign_settlement(key: RegistryKey, statement: Settlement, *, basin: Basin,
                    pair: PairLines, supersedes: str | None) -> None:
    statement.number = f"QL-BS-{statement.year}-{statement.id:06d}"
    first = party_label(pair.party_a)
    second = party_label(pair.party_b) if pair.party_b else (
        f"{pair.agreement.name} 联合基金 joint fund" if pair.agreement else "")
    net_to_a = statement.b_to_a - statement.a_to_b
    payer, payee = _direction(net_to_a, first, second)
    example = any(line.get("example") for line in statement.lines)
    facts: dict[str, Any] = {
        "number": statement.number, "kind": "basin_settlement",
        "basin": f"{basin.name} ({basin.code})", "year": statement.year,
        "version": statement.version, "party_a": first, "party_b": second,
        "a_to_b_yuan": yuan_text(statement.a_to_b), "b_to_a_yuan": yuan_text(statement.b_to_a),
        "payer": payer, "payee": payee, "net_yuan": yuan_text(abs(net_to_a)),
        "lines": len(statement.lines), "lines_sha256": digest(statement.lines),
        "supersedes": supersedes or "", "note": EXAMPLE_MARK if example else "",
        "date": date.today().isoformat(), "issuer": ISSUER,
    }
    statement.facts, statement.signature = facts, key.sign(facts)


def payload_of(statement: Assessment | Settlement) -> str:
    return encode_payload(statement.facts, statement.signature)


def verify_url(number: str, payload: str) -> str:
    return f"{base_url().rstrip('/')}/basins/statements/{quote(number, safe='')}?p={payload}"


# --- rendering -----------------------------------------------------------------------

def _line_text(line: dict[str, Any]) -> tuple[str, str]:
    """A line as (label, value) for the PDF: what it is and where it came from."""
    kind = line.get("kind", "")
    source = f"规则 rule #{line.get('rule')} · {line.get('agreement')}"
    if "statement" in line:  # a settlement line pointing at a monthly statement
        amount = line["to_upstream_yuan"]
        return (f"{line['period']} {line['section']}",
                f"{line['statement']} v{line['version']} · 付上游 to upstream {amount} 元")
    if kind == "class_step":
        return (f"水质 quality · {line['class']} 类 (目标 target {line['target_class']})",
                f"{line['steps_better']:+d} 级 steps × {line['per_class_yuan']} 元 = "
                f"{line['to_upstream_yuan']} 元 · 定类 {','.join(line['deciding'])} · {source}")
    if kind == "pollutant_load":
        return (f"污染负荷 load · {line['indicator']}",
                f"({line['measured']} − {line['target']}) mg/L × {line['volume_m3']} m³ = "
                f"{line['excess_t']} t × {line['rate_wan_yuan_per_t']} 万元/t → "
                f"{line['to_upstream_yuan']} 元 · {source}")
    if kind == "quantity":
        mark = "达标 attained" if line["attained"] else "未达标 missed"
        return (f"水量 quantity · {line['indicator']}",
                f"{line['value']} / 目标 target {line['target']} {line['unit']} {mark} → "
                f"{line['to_upstream_yuan']} 元 · {source}")
    if kind == "p_index":
        return (f"P 指数 P index · {line['section']} {line['period']}",
                f"P = {line['p']} → {line['to_upstream_yuan']} 元 · {source}")
    if kind == "joint_fund":
        return (f"联合基金 joint fund {line['period']}",
                f"出资 in {line.get('contributions')} · 分配 allocated {line.get('allocations')} · "
                f"扣减 cut {line.get('cuts')} · 获补 received {line.get('received')} · {source}")
    return (kind, json.dumps(line, ensure_ascii=False))


def _summary_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    labels = (("basin", "流域 Basin"), ("section", "断面 Section"), ("period", "月份 Month"),
              ("year", "年度 Year"), ("version", "版本 Version"),
              ("upstream", "上游 Upstream"), ("downstream", "下游 Downstream"),
              ("party_a", "甲方 Party A"), ("party_b", "乙方 Party B"),
              ("a_to_b_yuan", "甲付乙 A pays B (元)"), ("b_to_a_yuan", "乙付甲 B pays A (元)"),
              ("payer", "付款方 Payer"), ("payee", "收款方 Payee"),
              ("amount_yuan", "金额 Amount (元)"), ("net_yuan", "净额 Net (元)"),
              ("monitoring", "监测数据 Monitoring row"), ("supersedes", "取代 Supersedes"),
              ("lines_sha256", "明细摘要 Lines SHA-256"), ("note", "注 Note"))
    rows = [(label, EXAMPLE_NOTE if name == "note" else str(facts[name]))
            for name, label in labels if facts.get(name) not in (None, "")]
    amount = facts.get("net_yuan") or facts.get("amount_yuan")
    if amount:
        rows.append(("大写 In words", cny_capital(Decimal(amount))))
    rows.append(("签发日期 Date", str(facts["date"])))
    return rows


def render_pdf(statement: Assessment | Settlement,
               sources: list[tuple[str, str]] | None = None) -> bytes:
    """The statement as a signed PDF: summary, what it was made from (`sources`: the
    monitoring row's figures, file and line), every line, QR to its verification."""
    facts = statement.facts
    title_zh, title_en = KIND_TITLES[facts["kind"]]
    payload = payload_of(statement)
    lines = [_line_text(line) for line in statement.lines]
    rows = [*_summary_rows(facts), *(sources or []),
            *((f"明细 {n} · {label}", value) for n, (label, value) in enumerate(lines, 1))]
    return pdf.render_signed(pdf.SignedDoc(
        number=statement.number, title_zh=title_zh, title_en=title_en, rows=rows,
        issuer=str(facts["issuer"]), verify_url=verify_url(statement.number, payload),
        payload=payload))


CSV_COLUMNS = ("statement", "version", "current", "line", "kind", "rule", "agreement",
               "section", "period", "indicator", "class", "target_class", "measured", "target",
               "value", "unit", "volume_m3", "rate_wan_yuan_per_t", "excess_t", "attained",
               "steps_better", "per_class_yuan", "to_upstream_yuan", "a_to_b_fen",
               "b_to_a_fen", "monitoring", "source_statement", "example")


def csv_rows(statement: Assessment | Settlement, *, section: str = "", period: str = "",
             monitoring: str = "") -> list[dict[str, Any]]:
    """One row per line of a statement, with what it was made from."""
    rows = []
    for n, line in enumerate(statement.lines, 1):
        row = {name: line.get(name, "") for name in CSV_COLUMNS}
        row.update(statement=statement.number, version=statement.version,
                   current=statement.current, line=n, section=line.get("section", section),
                   period=line.get("period", period),
                   monitoring=line.get("monitoring", monitoring),
                   source_statement=line.get("statement", ""),
                   example=bool(line.get("example", False)))
        if isinstance(row["monitoring"], list):
            row["monitoring"] = " ".join(row["monitoring"])
        rows.append(row)
    return rows


def to_csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
