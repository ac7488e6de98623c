"""`qinglu demo`: the demo data set — the Jianhe county carbon-sink centre and its
forestry carbon-sink project, the Majiang procuratorate, and the defendant 钟某.

Identifiers are made up but valid (their check characters are right). Loading
twice changes nothing: every write carries an idempotency key.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from qinglu.basins import actions as basins
from qinglu.cases import actions as cases
from qinglu.core.identifiers import resident_id_check_char, uscc_check_char
from qinglu.core.principal import Principal
from qinglu.core.quantities import parse_quantity
from qinglu.documents import actions as documents
from qinglu.documents.signing import load_or_create_key
from qinglu.green import actions as green
from qinglu.market import actions as market
from qinglu.methods.fire import FireInput, estimate
from qinglu.registry import actions as registry

ACTOR = "demo"


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def _resident_id(first17: str) -> str:
    return first17 + resident_id_check_char(first17)


JIANHE_CENTRE = {
    "kind": "org",
    "name": "剑河县碳汇交易运营中心 Jianhe County Carbon-Sink Trading Operations Centre",
    "id_number": _uscc("12522629MB0000001"), "region": "522629",
}
MAJIANG_PROCURATORATE = {
    "kind": "org", "name": "麻江县人民检察院 Majiang County People's Procuratorate",
    "id_number": _uscc("11522635MB0000002"), "region": "522635",
}
DEFENDANT = {
    "kind": "person", "name": "钟某", "id_number": _resident_id("52263519700315001"),
    "region": "522635",
}
JIANHE_PROJECT = {
    "name": "剑河县林业碳汇项目 Jianhe County Forestry Carbon Sink Project",
    "product": "FCS", "region": "522629", "methodology": "GZ-FCS-SC-V01",
}
JIANHE_ISSUANCE_T = "20000"  # tCO2e of vintage 2023 issued to the centre


def _key(name: str) -> str:
    return f"demo:{name}"


def load_registry(session: Session) -> dict[str, Any]:
    """Holders, accounts, the Jianhe project and its issued units."""
    centre = registry.add_holder(session, **JIANHE_CENTRE, actor=ACTOR,
                                idempotency_key=_key("holder:jianhe"))
    procuratorate = registry.add_holder(session, **MAJIANG_PROCURATORATE, actor=ACTOR,
                                       idempotency_key=_key("holder:majiang"))
    defendant = registry.add_holder(session, **DEFENDANT, actor=ACTOR,
                                   idempotency_key=_key("holder:defendant"))
    bureau = registry.add_holder(session, **JIANHE_FORESTRY_BUREAU, actor=ACTOR,
                                idempotency_key=_key("holder:jianhe-forestry"))
    company = registry.add_holder(session, **COMPANY, actor=ACTOR,
                                 idempotency_key=_key("holder:company"))
    centre_account = registry.open_account(session, holder_id=centre["id"], actor=ACTOR,
                                          idempotency_key=_key("account:jianhe"))
    defendant_account = registry.open_account(session, holder_id=defendant["id"], actor=ACTOR,
                                             idempotency_key=_key("account:defendant"))
    project = registry.add_project(session, **JIANHE_PROJECT, owner_holder_id=centre["id"],
                                  actor=ACTOR, idempotency_key=_key("project:jianhe"))
    issuance = registry.issue(session, project_id=project["id"], vintage=2023,
                           quantity=parse_quantity("FCS", JIANHE_ISSUANCE_T),
                           to_account=centre_account["id"], actor=ACTOR,
                           idempotency_key=_key("issue:jianhe:2023"))
    return {
        "holders": {"jianhe_centre": centre["id"], "majiang_procuratorate": procuratorate["id"],
                    "defendant": defendant["id"], "jianhe_forestry_bureau": bureau["id"],
                    "company": company["id"]},
        "accounts": {"jianhe_centre": centre_account["id"],
                     "defendant": defendant_account["id"]},
        "projects": {"jianhe": project["id"]},
        "issuances": [issuance],
    }


MAJIANG_CASE: dict[str, Any] = {
    "number": "麻检刑公诉〔2026〕示例1号",
    "authority_kind": "procuratorate",
    "kind": "criminal_public_interest",
    "incident_date": date(2026, 3, 14),
    "region": "522635",
    "place": "麻江县某村田边山林 (field edge, Majiang county)",
    "incident": {"area": "139.2", "unit": "mu", "vegetation": "extra_tropical_forest",
                 "cause": "田边烧荒引发山火 / burning weeds at a field edge"},
}
MAJIANG_REPORT: dict[str, Any] = {
    "firm": "第三方核算机构（示例）/ accounting firm (demo)",
    "report_ref": "大气污染物排放核算报告（示例）",
    "stated_obligation": "53.96",
    "approved_by": "verifier:demo",
}
MAJIANG_PRICE = "60.00"  # CNY per tCO2e; a demo figure, not the price paid in the case
# What Qinglu's method gives for stated inputs: 139.2 mu of forest with 3.3 t of dry
# matter burnt per ha (a surface fire of grass, shrub and litter). IPCC's default for
# a temperate-forest wildfire, 19.8 t/ha, would give about six times the report.
MAJIANG_COMPARISON_INPUTS: dict[str, Any] = {
    "vegetation": "extra_tropical_forest", "area": 139.2, "unit": "mu",
    "fuel_consumed": 3.3, "on": date(2026, 3, 14)}
POLYGON = {"type": "Polygon", "coordinates": [[
    [107.5850, 26.4950], [107.5890, 26.4950], [107.5890, 26.4982], [107.5850, 26.4982],
    [107.5850, 26.4950]]]}
JIANHE_FORESTRY_BUREAU = {
    "kind": "org", "name": "剑河县林业局 Jianhe County Forestry Bureau",
    "id_number": _uscc("11522629MB0000003"), "region": "522629",
}
COMPANY = {
    "kind": "org", "name": "贵州某建材有限公司 (示例) Guizhou building-materials company (demo)",
    "id_number": _uscc("91522629MA0000004"), "region": "522629",
}


def _walk(session: Session, case_id: int, made: dict[str, Any], name: str,
          quantity: int, price: str) -> dict[str, Any]:
    """Agreement (escrow) -> payment -> retirement -> certificate and voucher."""
    steps: list[tuple[Any, dict[str, Any]]] = [
        (cases.agree, {"quantity": quantity, "price": price,
                       "seller_account_id": made["accounts"]["jianhe_centre"]}),
        (cases.pay, {"reference": f"DEMO-PAY-{name.upper()}-0001"}),
        (cases.retire_for_case, {}),
        (cases.certify, {"key": load_or_create_key()}),
    ]
    case: dict[str, Any] = {}
    for number, (step, kwargs) in enumerate(steps):
        case = step(session, case_id=case_id, actor=ACTOR,
                    idempotency_key=_key(f"case:{name}:walk:{number}"), **kwargs)
    return case


def _documents(session: Session, case: dict[str, Any]) -> list[dict[str, str]]:
    made = []
    for number in (case["certificate_number"], case["voucher_number"]):
        record = documents.get_certificate(session, number)
        made.append({"number": number, "kind": record.kind,
                     "pdf": str(documents.write_pdf(record).resolve())})
    return made


def load_majiang_case(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """The Majiang fire case: the external report's 53.96 t, walked through to certified.

    Beside the report's figure the case keeps what Qinglu's own method gives for
    stated inputs, so nobody mistakes a default for the report's measurement.
    """
    case = cases.open_case(
        session, **MAJIANG_CASE, authority_holder_id=made["holders"]["majiang_procuratorate"],
        defendant_holder_id=made["holders"]["defendant"], actor="authority:majiang",
        idempotency_key=_key("case:majiang"))
    comparison = {
        "inputs": {**MAJIANG_COMPARISON_INPUTS, "on": MAJIANG_COMPARISON_INPUTS["on"].isoformat()},
        "qinglu_obligation_t": estimate(FireInput(**MAJIANG_COMPARISON_INPUTS)).obligation_t,
        "note": "按所列输入计算，仅作对照 / computed from the stated inputs, for comparison only",
    }
    obligation, accounting = cases.external_report_accounting(
        **MAJIANG_REPORT, comparison=comparison)
    cases.record_accounting(session, case_id=case["id"], obligation=obligation,
                            accounting=accounting, actor="verifier:demo",
                            idempotency_key=_key("case:majiang:accounting"))
    case = _walk(session, case["id"], made, "majiang", obligation, MAJIANG_PRICE)
    return {**case, "documents": _documents(session, case)}


def load_polygon_case(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """A forest fire accounted by Qinglu's own method from the burned-area polygon."""
    case = cases.open_case(
        session, number="麻检公益〔2026〕示例2号", authority_kind="procuratorate",
        kind="civil", authority_holder_id=made["holders"]["majiang_procuratorate"],
        defendant_holder_id=made["holders"]["defendant"], incident_date=date(2026, 2, 20),
        region="522635", place="麻江县某林场 (forest farm, Majiang county)",
        incident={"polygon": POLYGON, "vegetation": "extra_tropical_forest"},
        actor="authority:majiang", idempotency_key=_key("case:polygon"))
    majiang = Principal(None, "majiang", "authority", made["holders"]["majiang_procuratorate"])
    accounted = cases.account_with_fire_method(
        session, majiang, case_id=case["id"],
        evidence={"vegetation": "extra_tropical_forest", "geojson": POLYGON,
                  "fuel_consumed": 4.2},
        idempotency_key=_key("case:polygon:accounting"))
    case = _walk(session, case["id"], made, "polygon", int(accounted["obligation"]
                                                            .replace(".", "")), MAJIANG_PRICE)
    return {**case, "documents": _documents(session, case)}


def load_administrative_case(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """Administrative enforcement: a forestry bureau's case, carbon sinks bought voluntarily
    as alternative restoration; accounted by the method from the area, left at accounted."""
    case = cases.open_case(
        session, number="剑林罚〔2026〕示例3号", authority_kind="forestry_bureau",
        kind="administrative", authority_holder_id=made["holders"]["jianhe_forestry_bureau"],
        defendant_holder_id=made["holders"]["company"], incident_date=date(2026, 1, 8),
        region="522629", place="剑河县某村荒坡 (hillside, Jianhe county)",
        incident={"area": "12", "unit": "mu", "vegetation": "savanna_and_grassland"},
        actor="authority:jianhe", idempotency_key=_key("case:administrative"))
    jianhe = Principal(None, "jianhe", "authority", made["holders"]["jianhe_forestry_bureau"])
    return cases.account_with_fire_method(
        session, jianhe, case_id=case["id"],
        evidence={"vegetation": "savanna_and_grassland", "area": "12", "unit": "mu"},
        idempotency_key=_key("case:administrative:accounting"))


NANSHAO_COLLECTIVE = {
    "kind": "org", "name": "剑河县南哨村股份经济合作社（示例）Nanshao village collective (demo)",
    "id_number": _uscc("93522629MA0000005"), "region": "522629",
}
NANSHAO_HOUSEHOLD = {
    "kind": "person", "name": "杨某某", "id_number": _resident_id("52262919650820001"),
    "region": "522629",
}
# Two parcels (one of each species) and two single trees near Nanshao, Jianhe county.
NANSHAO_PARCELS = [("1", "杉木", 5.0, 108.4100), ("2", "马尾松", 4.0, 108.4120)]
NANSHAO_TREES = [("NS-001", "杉木", 24.0, 14.0), ("NS-002", "马尾松", 31.0, 16.5)]
# The packaged species factors are unconfirmed (docs/methods-forest.md), so the demo runs
# the methods with the packaged values relabelled as demo-only. Not a checked source.
DEMO_SOURCE = "示例 DEMO ONLY: packaged unconfirmed value, not checked in its original"


def _demo_override(filename: str, species: tuple[str, ...]) -> str:
    import csv
    import io

    from qinglu.methods.params import PARAMETER_DIR

    with (PARAMETER_DIR / filename).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or []))
        writer.writeheader()
        for row in reader:
            if row["species"] in species and row["status"] == "unconfirmed":
                writer.writerow({**row, "source": DEMO_SOURCE, "status": "transcribed"})
    return out.getvalue()


def load_forestry(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """A village collective's forest project: parcels, one monitoring period approved and
    issued with the buffer share, and a household's single trees with a tree-year."""
    import json
    import tempfile
    from pathlib import Path

    from sqlalchemy import select

    from qinglu.forestry import monitoring, parcels, trees
    from qinglu.forestry.models import Parcel, Tree

    owner = registry.add_holder(session, **NANSHAO_COLLECTIVE, actor=ACTOR,
                               idempotency_key=_key("holder:nanshao"))
    household = registry.add_holder(session, **NANSHAO_HOUSEHOLD, actor=ACTOR,
                                   idempotency_key=_key("holder:nanshao-household"))
    registry.open_account(session, holder_id=owner["id"], actor=ACTOR,
                         idempotency_key=_key("account:nanshao"))
    registry.open_account(session, holder_id=household["id"], actor=ACTOR,
                         idempotency_key=_key("account:nanshao-household"))
    project = registry.add_project(
        session, name="南哨村森林经营碳汇项目（示例）Nanshao forest management (demo)",
        product="FCS", region="522629", methodology="AR-CM-003-V01",
        owner_holder_id=owner["id"], actor=ACTOR, idempotency_key=_key("project:nanshao"))
    project_id = int(project["id"])
    if session.scalar(select(Parcel.id).where(Parcel.project_id == project_id)) is None:
        features = [{"type": "Feature", "properties": {
            "林班": "12", "小班": number, "树种": species, "每亩蓄积": volume, "林龄": 18},
            "geometry": {"type": "Polygon", "coordinates": [[
                [lon, 26.7200], [lon + 0.0015, 26.7200], [lon + 0.0015, 26.7215],
                [lon, 26.7215], [lon, 26.7200]]]}}
            for number, species, volume, lon in NANSHAO_PARCELS]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "nanshao.geojson"
            path.write_text(json.dumps({"type": "FeatureCollection", "features": features},
                                       ensure_ascii=False), encoding="utf-8")
            parcels.import_file(session, project_id=project_id, path=path, actor=ACTOR)
    report = monitoring.submit(
        session, project_id=project_id, period_start=date(2024, 1, 1),
        period_end=date(2025, 12, 31), baseline_t=2.0, leakage_t=0.0,
        uncertainty_deduction=0.1, risk_class="medium", actor="operator:demo",
        measurements=[{"number": "12-1", "volume_start": 5.0, "volume_end": 6.0},
                      {"number": "12-2", "volume_start": 4.0, "volume_end": 6.4}],
        override_csv=_demo_override("forest_species.csv", ("杉木", "马尾松")),
        idempotency_key=_key("monitoring:nanshao:2025"))
    monitoring.approve(session, report_id=int(report["id"]), actor="verifier:demo",
                       idempotency_key=_key("monitoring:nanshao:2025:approve"))
    issued = monitoring.issue(session, report_id=int(report["id"]), actor="operator:demo",
                              idempotency_key=_key("monitoring:nanshao:2025:issue"))
    if session.scalar(select(Tree.id).where(Tree.project_id == project_id)) is None:
        trees.register(session, project_id=project_id, actor=ACTOR, rows=[
            {"number": number, "species": species, "lon": 108.4105 + k * 0.0001,
             "lat": 26.7230, "dbh_cm": dbh, "height_m": height, "year": 2025,
             "photo_ref": f"demo/{number}.jpg", "owner_holder_id": household["id"]}
            for k, (number, species, dbh, height) in enumerate(NANSHAO_TREES)])
    tree_years = trees.issue_year(
        session, project_id=project_id, year=2026, risk_class="medium", actor="operator:demo",
        measurements=[{"number": "NS-001", "dbh_increment_cm": 0.8, "height_increment_m": 0.5},
                      {"number": "NS-002", "dbh_increment_cm": 0.6, "height_increment_m": 0.4}],
        override_csv=_demo_override("tree_allometry.csv", ("杉木", "马尾松")),
        idempotency_key=_key("trees:nanshao:2026"))
    return {"project": project_id, "report": issued["id"],
            "tree_years": [row["id"] for row in tree_years["tree_years"]]}


# The demo listing stays open for visitors to try the market; its expiry is a fixed
# date so that loading the demo again repeats exactly the same request.
DEMO_LISTING_EXPIRES = datetime(2099, 12, 31, 16, 0, tzinfo=UTC)


def load_market(session: Session, made: dict[str, Any]) -> dict[str, Any]:
    """The Jianhe centre lists 200 t at 52 CNY/t; a power company buys 80 t and pays."""
    company_account = registry.open_account(session, holder_id=made["holders"]["company"],
                                           actor=ACTOR, idempotency_key=_key("account:company"))
    listing = market.create_listing(
        session, seller_account=made["accounts"]["jianhe_centre"], product="FCS",
        quantity=parse_quantity("FCS", "200"), price=Decimal("52.00"),
        min_lot=parse_quantity("FCS", "1"), expires_at=DEMO_LISTING_EXPIRES, actor=ACTOR,
        idempotency_key=_key("market:listing"))
    order = market.place_order(session, listing_id=listing["id"],
                               buyer_account=company_account["id"],
                               quantity=parse_quantity("FCS", "80"), actor=ACTOR,
                               idempotency_key=_key("market:order"))
    paid = market.confirm_payment(session, load_or_create_key(), order_id=order["id"],
                                  reference="DEMO-CCB-20261126-0001", actor=ACTOR,
                                  idempotency_key=_key("market:payment"))
    made["accounts"]["company"] = company_account["id"]
    return {"listing": listing["id"], "order": order["id"],
            "voucher": paid["voucher_number"]}


def load_basins(session: Session) -> dict[str, Any]:
    """The 赤水河 basin in the form of Guizhou's 2023 rules: three sections between 毕节,
    遵义 and the province, a year (2024) of monthly data, its monthly statements and the
    yearly settlement. Sections, targets and amounts are labelled examples (the rules'
    own are not published); the monitoring figures are made up."""
    folder = Path(basins.__file__).parent / "demo"
    spec = json.loads((folder / "chishui.json").read_text(encoding="utf-8"))
    code = spec["basin"]["code"]
    key = load_or_create_key()
    basins.add_basin(session, ACTOR, **spec["basin"], idempotency_key=_key(f"basin:{code}"))
    for party in spec["parties"]:
        basins.add_party(session, ACTOR, **party,
                         idempotency_key=_key(f"basin-party:{party['region']}"))
    for section in spec["sections"]:
        basins.add_section(session, ACTOR, basin=code, example=True, **section,
                           idempotency_key=_key(f"basin-section:{code}:{section['code']}"))
    basins.add_agreement(session, ACTOR, spec["agreement"],
                         idempotency_key=_key(f"basin-agreement:{spec['agreement']['code']}"))
    monitoring = folder / "chishui_2024.csv"
    basins.import_monitoring(session, ACTOR, key, basin=code, filename=monitoring.name,
                             content=monitoring.read_bytes(),
                             idempotency_key=_key(f"basin-monitoring:{code}:2024"))
    assessed = basins.assess(session, ACTOR, key, basin=code, year=2024,
                             idempotency_key=_key(f"basin-assess:{code}:2024"))
    settled = basins.settle(session, ACTOR, key, basin=code, year=2024,
                            idempotency_key=_key(f"basin-settle:{code}:2024"))
    return {"basin": code, "year": 2024, "monthly_statements": assessed["new_statements"],
            "settlements": settled["pairs"]}


WIND_GENERATOR = {
    "kind": "org", "name": "威宁某风电有限公司（示例）Weining wind farm company (demo)",
    "id_number": _uscc("91520526MA0000005"), "region": "520526",
}
EXPO_ORGANISER = {
    "kind": "org", "name": "数博会执委会办公室（示例）Big Data Expo organiser (demo)",
    "id_number": _uscc("11520100MB0000006"), "region": "520100",
}
VILLAGE_LEAGUE = {
    "kind": "org", "name": "榕江县村超组委会（示例）Rongjiang village football league (demo)",
    "id_number": _uscc("51522632MJ0000007"), "region": "522632",
}
WEINING_COUNTY_COMPANY = {
    "kind": "org", "name": "威宁县国有资产运营公司（示例）Weining county asset company (demo)",
    "id_number": _uscc("91520526MA0000008"), "region": "520526",
}
WIND_FILING_CODE = "DEMO5205260000001"  # a made-up 17-character filing code (建档立卡)
# 2026-04 generation of the demo wind farm: 120 certificates and 500 kWh carried.
WIND_GENERATION = f"filing_code,month,kwh\n{WIND_FILING_CODE},2026-04,120500\n"
# The expo's figures as the press gave them: 50,000 kWh of green power, "about 25 t of
# standard coal and 62.5 t of CO2 saved" (0.5 kgce/kWh x 2.5 tCO2/tce, not an official
# factor). Kept beside the method's figure, labelled as reported.
EXPO_REPORTED_T = "62.5"
EXPO_REPORTED_SOURCE = ("新闻报道（示例引用）：5万千瓦时绿电，约合标准煤25吨、减排二氧化碳62.5吨 / "
                        "press release: 50,000 kWh, about 25 t standard coal, 62.5 t CO2 "
                        "(implies 1.25 kgCO2/kWh, not an official factor)")


def load_green(session: Session) -> dict[str, Any]:
    """Green electricity: a wind farm filed with its (made-up) code and a month of
    generation issued; the Big Data Expo (示例) claims 50,000 kWh as 100 % green power
    with 50 certificates (26.83 t CO2 at the 2022 national grid average, the press's
    62.5 t beside it as reported); the Rongjiang village football league (村超, 示例)
    claims 30,000 kWh; and Weining county lists 50 MW of wind development rights (a
    climate-resource product) on the market. Names and figures are labelled examples."""
    key = load_or_create_key()
    holders = {name: registry.add_holder(session, **spec, actor=ACTOR,
                                         idempotency_key=_key(f"holder:{name}"))["id"]
               for name, spec in (("wind", WIND_GENERATOR), ("expo", EXPO_ORGANISER),
                                  ("league", VILLAGE_LEAGUE),
                                  ("weining", WEINING_COUNTY_COMPANY))}
    accounts = {name: registry.open_account(session, holder_id=holder, actor=ACTOR,
                                            idempotency_key=_key(f"account:{name}"))["id"]
                for name, holder in holders.items()}
    wind = green.register_project(
        session, ACTOR, name="威宁某风电场（示例）Weining wind farm (demo)",
        filing_code_text=WIND_FILING_CODE, technology="wind", commissioned=date(2019, 6, 30),
        region="520526", account_id=accounts["wind"], idempotency_key=_key("gec:project:wind"))
    issued = green.import_generation(session, ACTOR, filename="wind-2026-04.csv",
                                     content=WIND_GENERATION.encode(),
                                     idempotency_key=_key("gec:generation:wind:2026-04"))
    for name, count in (("expo", 50), ("league", 30)):
        registry.transfer(session, from_account=accounts["wind"], to_account=accounts[name],
                          product="GEC", quantity=count, actor=ACTOR,
                          idempotency_key=_key(f"gec:transfer:{name}"))
    expo = green.claim(
        session, key, ACTOR, account_id=accounts["expo"],
        consumer="中国国际大数据产业博览会（示例）China International Big Data Expo (demo)",
        period_start=date(2026, 5, 26), period_end=date(2026, 5, 28), consumption_kwh=50_000,
        certificates=50, factor="grid_average", region="national", factor_year=2022,
        reported_co2_t=EXPO_REPORTED_T, reported_source=EXPO_REPORTED_SOURCE,
        idempotency_key=_key("claim:expo"))
    league = green.claim(
        session, key, ACTOR, account_id=accounts["league"],
        consumer="榕江县和美乡村足球超级联赛（村超，示例）Rongjiang village super league (demo)",
        period_start=date(2026, 6, 1), period_end=date(2026, 7, 31), consumption_kwh=30_000,
        certificates=30, idempotency_key=_key("claim:league"))
    rights = registry.add_project(
        session, name="威宁县风能资源开发权（示例）Weining wind development rights (demo)",
        product="WINDR", region="520526", methodology="GZ-CLIMATE-RESOURCE (示例)",
        owner_holder_id=holders["weining"], actor=ACTOR, idempotency_key=_key("project:windr"))
    registry.issue(session, project_id=rights["id"], vintage=2026,
                   quantity=parse_quantity("WINDR", "50"), to_account=accounts["weining"],
                   actor=ACTOR, idempotency_key=_key("issue:windr"))
    listing = market.create_listing(
        session, seller_account=accounts["weining"], product="WINDR",
        quantity=parse_quantity("WINDR", "50"), price=Decimal("20000.00"), min_lot=None,
        expires_at=DEMO_LISTING_EXPIRES, actor=ACTOR,
        note="风电开发权，按装机容量 MW 计（示例价格）/ wind development right per MW of "
             "capacity (example price)", idempotency_key=_key("market:listing:windr"))
    return {"power_project": wind["id"], "certificates_issued": issued["certificates"],
            "claims": {"expo": {k: expo[k] for k in ("id", "green_share", "co2_t",
                                                     "reported_co2_t", "certificate_number")},
                       "league": {k: league[k] for k in ("id", "green_share", "co2_t",
                                                         "certificate_number")}},
            "climate_listing": listing["id"]}


def load_demo(session: Session) -> dict[str, Any]:
    made = load_registry(session)
    made["forestry"] = load_forestry(session, made)
    made["market"] = load_market(session, made)
    made["basins"] = load_basins(session)
    made["green"] = load_green(session)
    made["cases"] = {
        "majiang": load_majiang_case(session, made),
        "polygon": load_polygon_case(session, made),
        "administrative": load_administrative_case(session, made),
    }
    made["certificates"] = [doc for case in made["cases"].values()
                            for doc in case.get("documents", [])]
    return made


def summary(made: dict[str, Any]) -> list[str]:
    """A few lines saying what `load_demo` made (`qinglu demo`; `--json` for all of it)."""
    cases = made["cases"].values()
    lines = [
        f"演示数据已载入 Demo data loaded: {len(made['holders'])} 持有人 holders, "
        f"{len(made['accounts'])} 账户 accounts, {len(made['projects'])} 项目 projects",
        "案件 Cases: " + "; ".join(f"{case['id']} {case['number']} ({case['status']})"
                                  for case in cases),
        "证书 Certificates: " + ", ".join(doc["number"] for doc in made["certificates"])
        + f"; 交易凭证 trade voucher {made['market']['voucher']}",
    ]
    if made["certificates"]:
        lines.append(f"PDF: {Path(made['certificates'][0]['pdf']).parent}")
    lines.append("全部结果 Everything: qinglu demo --json")
    return lines
