"""A year of the demo basin (赤水河, sections and amounts as examples) through monthly
assessment and yearly settlement, on SQLite and PostgreSQL: hand-checked netting, the
quantity month where the volume attains and the minimum flow does not, statements that
verify and show where each figure came from, bad files refused with nothing written,
corrections that make new statement versions, and missing months never taken as zero."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from qinglu.basins import actions
from qinglu.basins.models import Assessment, MonitoringRow, Settlement
from qinglu.core.errors import Forbidden, InvalidInput, NotAuthenticated
from qinglu.core.ledger import ledger_head
from qinglu.core.principal import ANONYMOUS, Principal
from qinglu.demo import load_basins
from qinglu.documents.pdf import extract_payload
from qinglu.documents.signing import load_or_create_key
from qinglu.registry.audit import audit

OPERATOR = "test-operator"
HEADER = "section,month,codmn [mg/L],nh3n [mg/L],tp [mg/L],volume [万m3],min_flow [m3/s]\n"


@pytest.fixture
def demo(session: Session) -> dict[str, Any]:
    return load_basins(session)


def _pair(session: Session, names: tuple[str, str]) -> dict[str, Any]:
    settlements = actions.basin_detail(session, OPERATOR, "chishui", 2024)["settlements"]
    return next(s for s in settlements if (s["party_a"], s["party_b"]) == names)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext"):
        path = tmp_path / "statement.pdf"
        path.write_bytes(data)
        return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True,
                              text=True).stdout
    reader = PdfReader(io.BytesIO(data))
    return "".join(page.extract_text() for page in reader.pages).replace("\x00", "")


def test_demo_year_is_assessed_and_settled_with_two_way_netting(
        session: Session, demo: dict[str, Any]) -> None:
    """36 monthly statements (3 sections × 12 months); per pair the year nets the months
    each side paid. 毕节→遵义 (CS-01, CS-02): CS-01 is class I in Jan and Dec (+20万 each),
    class III in Jun and Jul (−20万 each), its volume always attains (+5万) and its minimum
    flow all but February (+5万, Feb −5万); CS-02's flow always attains, its volume all but
    March. Months where 遵义 pays: 13 at CS-01 (Jan, Dec 30万; 7 months 10万) = 130万, and
    11 at CS-02 (10万) = 110万: 240万; months where 毕节 pays: Jun, Jul 10万 = 20万;
    net 220万 from 遵义 to 毕节."""
    assert demo["monthly_statements"] == 36 and demo["settlements"] == 2
    pair = _pair(session, ("遵义市 (520300)", "毕节市 (520500)"))
    assert (pair["a_to_b_yuan"], pair["b_to_a_yuan"]) == ("2400000.00", "200000.00")
    assert (pair["payer"], pair["payee"], pair["net_yuan"]) == (
        "遵义市 (520300)", "毕节市 (520500)", "2200000.00")
    # Leaving the province at CS-03, the province settles with 遵义: it pays 130万 for
    # Jan and Dec (class I) and 7 good months, 遵义 pays 20万 for Jun and Jul: net 110万.
    province = _pair(session, ("贵州省 (520000)", "遵义市 (520300)"))
    assert (province["a_to_b_yuan"], province["b_to_a_yuan"], province["net_yuan"]) == (
        "1300000.00", "200000.00", "1100000.00")
    # The settlement nets exactly the monthly statements it names.
    statement = actions.statement_view(session, OPERATOR, pair["number"])
    monthly = {s["number"]: s for s in actions.basin_detail(
        session, OPERATOR, "chishui", 2024)["statements"]}
    named = [line["statement"] for line in statement["lines"]]
    assert len(named) == 24 and {monthly[n]["section"] for n in named} == {"CS-01", "CS-02"}
    to_upstream = [int(monthly[n]["to_upstream_yuan"].replace(".", "")) for n in named]
    assert sum(v for v in to_upstream if v > 0) == 240_000_000
    assert -sum(v for v in to_upstream if v < 0) == 20_000_000
    assert audit(session).ok


def test_quantity_month_volume_attains_minimum_flow_does_not(
        session: Session, demo: dict[str, Any]) -> None:
    february = next(s for s in actions.basin_detail(session, OPERATOR, "chishui", 2024)[
        "statements"] if (s["section"], s["period"]) == ("CS-01", "2024-02"))
    view = actions.statement_view(session, OPERATOR, february["number"])
    quantity = {line["indicator"]: line for line in view["lines"] if line["kind"] == "quantity"}
    assert quantity["volume"]["attained"] and quantity["volume"]["to_upstream_yuan"] == "50000.00"
    assert not quantity["min_flow"]["attained"]
    assert (quantity["min_flow"]["value"], quantity["min_flow"]["target"]) == ("18.4", "20")
    assert quantity["min_flow"]["to_upstream_yuan"] == "-50000.00"
    assert view["monitoring"]["min_flow"] == {"value": "18.4", "unit": "m3/s"}
    assert (view["monitoring"]["file"], view["monitoring"]["line"]) == ("chishui_2024.csv", 3)


def test_statement_pdf_has_chinese_text_traceable_rows_and_verifies(
        session: Session, demo: dict[str, Any], tmp_path: Path) -> None:
    pair = _pair(session, ("遵义市 (520300)", "毕节市 (520500)"))
    data = actions.statement_pdf(session, OPERATOR, pair["number"])
    content = pdf_text(data, tmp_path)
    assert "流域横向生态补偿年度清算单" in content and "遵义市" in content
    assert "人民币贰佰贰拾万元整" in content and "示例数据" in content
    view = actions.statement_view(session, OPERATOR, pair["number"])
    for line in view["lines"]:  # every monthly statement it nets is named in the PDF
        assert line["statement"] in content
    number, payload = extract_payload(data)
    assert number == pair["number"]
    key = load_or_create_key()
    assert actions.verify_statement(session, key, number=number, payload=payload)["valid"]
    monthly = actions.statement_pdf(session, OPERATOR, view["lines"][0]["statement"])
    monthly_text = pdf_text(monthly, tmp_path)
    assert "月度核算单" in monthly_text and "chishui_2024.csv" in monthly_text


def test_csv_lines_name_their_rule_and_monitoring_row(session: Session,
                                                      demo: dict[str, Any]) -> None:
    rows = actions.year_csv(session, OPERATOR, "chishui", 2024).splitlines()
    assert rows[0].startswith("statement,version,current,line,kind,rule")
    quality = [r for r in rows if ",class_step," in r]
    assert len(quality) == 24 and all(r.split(",")[25] for r in quality)  # monitoring ref
    assert any(r.startswith("QL-BS-2024-") for r in rows)


def test_a_tampered_row_is_caught_by_verification(session: Session,
                                                  demo: dict[str, Any]) -> None:
    statement = session.scalars(select(Assessment).order_by(Assessment.id)).first()
    assert statement is not None
    key = load_or_create_key()
    assert actions.verify_statement(session, key, number=statement.number)["valid"]
    session.execute(text("UPDATE basin_monitoring SET volume = volume - 1 WHERE id = :id"),
                    {"id": statement.monitoring_id})
    session.commit()
    session.expire_all()
    result = actions.verify_statement(session, key, number=statement.number)
    assert not result["valid"] and any("recomputed" in p for p in result["problems"])


BAD_ROWS = [
    ("CS-09,2024-01,2,0.1,0.02,100,5", "unknown section"),
    ("CS-02,2024-01,,,,100,-5", "cannot be negative"),
    ("CS-01,2024-01,2,0.1,,12000,30", "lacks 总磷 TP"),
    ("CS-02,2099-01,,,,100,5", "in the future"),
    ("CS-02,2024-13,,,,100,5", "must be YYYY-MM"),
    ("CS-02,2024-04,,,,100 m3/s,5", "not of volume"),
    ("CS-02,2024-05,,,,100,5", ""),  # good
    ("CS-02,2024-05,,,,100,5", "repeats row 8"),
]


def test_bad_file_refused_with_row_and_reason_nothing_written(
        session: Session, demo: dict[str, Any]) -> None:
    before = (session.scalar(select(func.count(MonitoringRow.id))), ledger_head(session))
    content = (HEADER + "\n".join(row for row, _ in BAD_ROWS) + "\n").encode()
    with pytest.raises(actions.MonitoringImportRefused) as refused:
        actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="chishui",
                                  filename="bad.csv", content=content)
    problems = dict(refused.value.problems)
    for n, (_row, reason) in enumerate(BAD_ROWS, start=2):
        where = f"第{n}行 row {n}"
        if reason:
            assert reason in problems[where], (where, problems.get(where))
        else:
            assert where not in problems
    session.rollback()
    assert (session.scalar(select(func.count(MonitoringRow.id))), ledger_head(session)) == before


def test_a_figure_without_its_unit_is_refused(session: Session, demo: dict[str, Any]) -> None:
    content = b"section,month,volume,min_flow [m3/s]\nCS-02,2024-05,100,5\n"
    with pytest.raises(actions.MonitoringImportRefused) as refused:
        actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="chishui",
                                  filename="units.csv", content=content)
    assert "needs its unit" in refused.value.problems[0][1]


def test_a_changed_month_needs_a_declared_correction(session: Session,
                                                     demo: dict[str, Any]) -> None:
    content = (HEADER + "CS-01,2024-07,3.8,0.42,0.09,53568.00,100.000\n").encode()
    with pytest.raises(actions.MonitoringImportRefused, match="correction"):
        actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="chishui",
                                  filename="july.csv", content=content)
    with pytest.raises(InvalidInput, match="reason"):
        actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="chishui",
                                  filename="july.csv", content=content, correction=True)


def test_correction_makes_new_statement_versions_and_keeps_the_old(
        session: Session, demo: dict[str, Any]) -> None:
    """July at CS-01 was class III (TP 0.13); a corrected TP of 0.09 makes it class II:
    the July statement gets version 2 (遵义 pays 10万 for the quantity instead of 毕节
    paying 10万), the year's settlement between 遵义 and 毕节 version 2 (net 240万
    instead of 220万); both old versions stay, still verifiable, marked superseded."""
    detail = actions.basin_detail(session, OPERATOR, "chishui", 2024)
    july = next(s for s in detail["statements"] if (s["section"], s["period"]) ==
                ("CS-01", "2024-07"))
    old_settlement = _pair(session, ("遵义市 (520300)", "毕节市 (520500)"))
    corrected = "CS-01,2024-07,3.8,0.42,0.09,61603.20,115.000\n"
    result = actions.import_monitoring(
        session, OPERATOR, load_or_create_key(), basin="chishui", filename="july-fix.csv",
        content=(HEADER + corrected).encode(), correction=True,
        reason="实验室复测 TP laboratory re-test")
    assert result["corrected"] == 1 and len(result["reassessed"]) == 1
    assert result["resettled"] == [{"year": 2024, "new_statements": 1}]
    new_july = actions.statement_view(session, OPERATOR, result["reassessed"][0])
    assert new_july["facts"]["version"] == 2 and new_july["facts"]["supersedes"] == july["number"]
    assert new_july["monitoring"]["version"] == 2
    assert new_july["monitoring"]["correction_reason"] == "实验室复测 TP laboratory re-test"
    assert [v["version"] for v in new_july["versions"]] == [1, 2]
    old = actions.verify_statement(session, load_or_create_key(), number=july["number"])
    assert old["valid"] and old["superseded_by"] == new_july["number"]
    pair = _pair(session, ("遵义市 (520300)", "毕节市 (520500)"))
    assert pair["version"] == 2 and pair["number"] != old_settlement["number"]
    assert (pair["a_to_b_yuan"], pair["b_to_a_yuan"], pair["net_yuan"]) == (
        "2500000.00", "100000.00", "2400000.00")
    assert session.scalar(select(func.count(Settlement.id))) == 3  # 2 current + 1 kept
    assert actions.verify_statement(session, load_or_create_key(),
                                    number=old_settlement["number"])["superseded_by"] == \
        pair["number"]
    assert audit(session).ok


def _small_basin(session: Session) -> None:
    actions.add_basin(session, OPERATOR, code="test", name="测试河")
    for region, name in (("520500", "毕节市"), ("520300", "遵义市")):
        actions.add_party(session, OPERATOR, region=region, name=name, level="prefecture")
    actions.add_section(session, OPERATOR, basin="test", code="T-1", name="测试断面",
                        kind="quality", upstream="520500", downstream="520300")
    actions.add_agreement(session, OPERATOR, {
        "code": "test-rules", "name": "测试规则", "basin": "test", "valid_from": "2023-01-01",
        "source": "test", "rules": [{"section": "T-1", "kind": "pollutant_load", "params": {
            "indicators": {"TP": {"rate": "1"}}, "target_class": "II", "rate_unit": "万元/t",
            "direction": "two_way"}}]})


def test_missing_month_is_flagged_and_the_year_not_settled(session: Session) -> None:
    _small_basin(session)
    rows = "".join(f"T-1,2023-{m:02d},3,0.3,0.15,1000,\n" for m in range(1, 13) if m != 5)
    actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="test",
                              filename="t.csv", content=(HEADER + rows).encode())
    key = load_or_create_key()
    assessed = actions.assess(session, OPERATOR, key, basin="test", year=2023)
    assert assessed["assessed"] == 11
    assert assessed["missing"] == [{"section": "T-1", "period": "2023-05",
                                    "reason": "无监测数据 no monitoring data"}]
    # TP 0.15 against class II's 0.1 on 1000万m3: 0.5 t at 1万元/t, 5,000 yuan a month.
    first = actions.basin_detail(session, OPERATOR, "test", 2023)["statements"][0]
    assert first["to_upstream_yuan"] == "-5000.00" and first["payer"] == "毕节市 (520500)"
    with pytest.raises(actions.MissingMonths, match="T-1 2023-05"):
        actions.settle(session, OPERATOR, key, basin="test", year=2023)
    assert session.scalar(select(func.count(Settlement.id))) == 0


def test_only_operators_write_and_readers_read(session: Session, demo: dict[str, Any]) -> None:
    holder = Principal(1, "h", "holder", 1)
    verifier = Principal(2, "v", "verifier", None)
    with pytest.raises(NotAuthenticated):
        actions.overview(session, ANONYMOUS, 2024)
    with pytest.raises(Forbidden):
        actions.overview(session, holder, 2024)
    assert actions.overview(session, verifier, 2024)["basins"]
    with pytest.raises(Forbidden):
        actions.assess(session, verifier, load_or_create_key(), basin="chishui", year=2024)
    number = actions.basin_detail(session, verifier, "chishui", 2024)["settlements"][0]["number"]
    # Anyone may verify a statement.
    assert actions.verify_statement(session, load_or_create_key(), number=number)["valid"]


def test_assessing_again_changes_nothing(session: Session, demo: dict[str, Any]) -> None:
    key = load_or_create_key()
    again = actions.assess(session, OPERATOR, key, basin="chishui", year=2024)
    assert (again["new_statements"], again["unchanged"]) == (0, 36)
    settled = actions.settle(session, OPERATOR, key, basin="chishui", year=2024)
    assert (settled["new_statements"], settled["unchanged"]) == (0, 2)
    assert load_basins(session) == demo


def test_yearly_rules_joint_fund_and_p_index_settle_from_the_years_rows(
        session: Session) -> None:
    """The 2018 Chishui fund (ratios from the cited parameter file) over 2019's data where
    both sections attain Class II on the annual mean: Yunnan +4,000万, Guizhou −2,000万,
    Sichuan −2,000万; and a P-index rule on the same data (structure only)."""
    for region, name, level in (("530000", "云南省", "province"), ("520000", "贵州省", "province"),
                                ("510000", "四川省", "province")):
        actions.add_party(session, OPERATOR, region=region, name=name, level=level)
    actions.add_basin(session, OPERATOR, code="chishui3", name="赤水河（云贵川）")
    for code, up, down in (("QSP", "530000", "520000"), ("LYX", "520000", "510000")):
        actions.add_section(session, OPERATOR, basin="chishui3", code=code, name=code,
                            kind="quality", upstream=up, downstream=down)
    figures = actions.rule_template("chishui2018_fund", date(2019, 1, 1))["figures"]
    ratios = {kind: {r: figures[f"{kind}.{r}"]["value"] for r in ("530000", "520000", "510000")}
              for kind in ("contribution", "allocation")}
    actions.add_agreement(session, OPERATOR, {
        "code": "chishui-2018-fund", "name": "赤水河流域横向生态补偿协议", "basin": "chishui3",
        "valid_from": "2018-01-01", "valid_to": "2020-12-31",
        "source": figures["total"]["source"], "rules": [
            {"kind": "joint_fund", "params": {
                "total": figures["total"]["value"], "amount_unit": "元", "target_class": "II",
                "contributions": ratios["contribution"], "allocations": ratios["allocation"],
                "clauses": [{"section": "QSP", "cut_from": {"530000": "1"},
                             "paid_to": {"520000": "1", "510000": "1"}},
                            {"section": "LYX", "cut_from": {"520000": "1"},
                             "paid_to": {"510000": "1"}}]}},
            {"kind": "p_index", "section": "LYX", "params": {
                "k0": "0.85", "weights": {"CODMn": "0.5", "TP": "0.5"},
                "baselines": {"CODMn": "3", "TP": "0.1"}, "concentration_unit": "mg/L",
                "threshold": "1", "amount": "1", "amount_unit": "万元"}}]})
    rows = "".join(f"{code},2019-{m:02d},{cod},0.3,{tp},,\n" for code in ("QSP", "LYX")
                   for m, (cod, tp) in enumerate([("2.5", "0.06"), ("3.5", "0.12")] * 6, 1))
    actions.import_monitoring(session, OPERATOR, load_or_create_key(), basin="chishui3",
                              filename="2019.csv", content=(HEADER + rows).encode())
    actions.settle(session, OPERATOR, load_or_create_key(), basin="chishui3", year=2019)
    settled = actions.basin_detail(session, OPERATOR, "chishui3", 2019)["settlements"]
    fund = {s["party_a"]: (s["payer"], s["net_yuan"]) for s in settled
            if "joint fund" in s["party_b"]}
    assert fund == {"云南省 (530000)": ("赤水河流域横向生态补偿协议 联合基金 joint fund",
                                      "40000000.00"),
                    "贵州省 (520000)": ("贵州省 (520000)", "20000000.00"),
                    "四川省 (510000)": ("四川省 (510000)", "20000000.00")}
    # Annual means CODMn 3.0, TP 0.09: P = 0.85 × (0.5 × 1 + 0.5 × 0.9) = 0.8075 ≤ 1, so
    # Sichuan (downstream of LYX) pays Guizhou 1万.
    p_index = next(s for s in settled if s["party_b"] == "贵州省 (520000)")
    assert (p_index["payer"], p_index["payee"], p_index["net_yuan"]) == (
        "四川省 (510000)", "贵州省 (520000)", "10000.00")
    line = actions.statement_view(session, OPERATOR, p_index["number"])["lines"][0]
    assert line["p"] == "0.8075" and len(line["monitoring"]) == 12
