"""Basin actions: everything the `qinglu basin` commands, the basin API and pages call.

Writes (basins, parties, sections, agreements with their rules, monitoring imports,
assessments, settlements) are one ledger write each, by an operator or a trusted
console (a name, as the command line and the demo pass). Reads are for signed-in
operators, verifiers and authorities; a statement's verification is public, as for
every signed document. Views are JSON-able dicts; adapters never see a row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from qinglu.basins import assessment, monitoring, statements
from qinglu.basins.models import (
    PARTY_LEVELS,
    SECTION_KINDS,
    Assessment,
    Basin,
    BasinAgreement,
    BasinParty,
    BasinRule,
    BasinSection,
    MonitoringImport,
    MonitoringRow,
    Settlement,
)
from qinglu.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    choice,
    require_text,
)
from qinglu.core.identifiers import validate_region
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.principal import Actor, actor_for
from qinglu.documents.signing import RegistryKey, decode_payload, verify
from qinglu.methods import basin as method
from qinglu.methods import water
from qinglu.methods.basin_units import CONCENTRATION, FLOW, VOLUME, text_of, yuan_text

READERS = ("operator", "verifier", "authority")
WRITERS = ("operator",)
MonitoringImportRefused = monitoring.MonitoringImportRefused
MissingMonths = assessment.MissingMonths


class UnknownBasin(NotFound):
    code = "unknown-basin"


class UnknownStatement(NotFound):
    code = "unknown-statement"








def _write(session: Session, kind: str, actor: str, request: dict[str, Any],
           action: Callable[[WriteContext], dict[str, Any]],
           idempotency_key: str | None = None) -> dict[str, Any]:
    return run_write(session, kind=f"basin.{kind}", actor=actor, request=request,
                     action=action, idempotency_key=idempotency_key)


def get_basin(session: Session, code: str) -> Basin:
    basin = session.scalar(select(Basin).where(Basin.code == code))
    if basin is None:
        raise UnknownBasin(f"流域 {code!r} 未登记", f"unknown basin {code!r}")
    return basin


def _party(session: Session, region: str) -> BasinParty:
    party = session.scalar(select(BasinParty).where(BasinParty.region == region))
    if party is None:
        raise NotFound(f"补偿主体 {region} 未登记", f"no party with region {region}")
    return party


# --- registering basins, parties, sections and agreements ---------------------------

def basin_view(basin: Basin) -> dict[str, Any]:
    return {"id": basin.id, "code": basin.code, "name": basin.name}


def add_basin(session: Session, who: Actor, *, code: str, name: str,
              idempotency_key: str | None = None) -> dict[str, Any]:
    actor = actor_for(who, WRITERS)
    request = {"code": require_text("流域代码 basin code", code, 40),
               "name": require_text("流域名称 basin name", name)}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.scalar(select(Basin.id).where(Basin.code == request["code"])):
            raise Conflict(f"流域 {request['code']} 已登记", f"basin {request['code']} exists")
        basin = Basin(**request)
        ctx.session.add(basin)
        ctx.session.flush()
        return basin_view(basin)

    return _write(session, "add", actor, request, action, idempotency_key)


def party_view(party: BasinParty) -> dict[str, Any]:
    return {"id": party.id, "region": party.region, "name": party.name, "level": party.level}


def add_party(session: Session, who: Actor, *, region: str, name: str, level: str,
              idempotency_key: str | None = None) -> dict[str, Any]:
    """A province, prefecture or county that pays or is paid (GB/T 2260 code)."""
    actor = actor_for(who, WRITERS)
    request = {"region": validate_region(region), "name": require_text("名称 name", name),
               "level": choice("层级 level", level, PARTY_LEVELS)}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.scalar(select(BasinParty.id).where(
                BasinParty.region == request["region"])):
            raise Conflict(f"补偿主体 {request['region']} 已登记",
                           f"party {request['region']} exists")
        party = BasinParty(**request)
        ctx.session.add(party)
        ctx.session.flush()
        return party_view(party)

    return _write(session, "party.add", actor, request, action, idempotency_key)


def _coordinate(name: str, value: Any, bound: int) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(f"{name} {value!r} 不是数字", f"{name} {value!r} is not a number") \
            from None
    if not number.is_finite() or abs(number) > bound:
        raise InvalidInput(f"{name} {value} 超出范围", f"{name} {value} is out of range")
    return str(number.quantize(Decimal("0.000001")))


def section_view(section: BasinSection, parties: Mapping[int, BasinParty]) -> dict[str, Any]:
    up, down = parties[section.upstream_party_id], parties[section.downstream_party_id]
    return {"id": section.id, "code": section.code, "name": section.name, "kind": section.kind,
            "waterbody": section.waterbody, "upstream": party_view(up),
            "downstream": party_view(down),
            "lon": str(section.lon) if section.lon is not None else None,
            "lat": str(section.lat) if section.lat is not None else None,
            "position": section.position, "example": section.example}


def add_section(session: Session, who: Actor, *, basin: str, code: str, name: str, kind: str,
                upstream: str, downstream: str, waterbody: str = "river",
                lon: Any = None, lat: Any = None, position: int = 0, example: bool = False,
                idempotency_key: str | None = None) -> dict[str, Any]:
    """A cross-boundary monitoring section between an upstream and a downstream party."""
    actor = actor_for(who, WRITERS)
    request: dict[str, Any] = {
               "basin": basin, "code": require_text("断面代码 section code", code, 40),
               "name": require_text("断面名称 section name", name),
               "kind": choice("断面类型 kind", kind, SECTION_KINDS),
               "waterbody": choice("水体 waterbody", waterbody, water.WATERBODIES),
               "upstream": validate_region(upstream), "downstream": validate_region(downstream),
               "lon": _coordinate("经度 lon", lon, 180), "lat": _coordinate("纬度 lat", lat, 90),
               "position": int(position), "example": bool(example)}
    if request["upstream"] == request["downstream"]:
        raise InvalidInput("上下游不能是同一主体", "upstream and downstream must differ")

    def action(ctx: WriteContext) -> dict[str, Any]:
        found = get_basin(ctx.session, basin)
        if ctx.session.scalar(select(BasinSection.id).where(
                BasinSection.basin_id == found.id, BasinSection.code == request["code"])):
            raise Conflict(f"断面 {request['code']} 已登记", f"section {request['code']} exists")
        up, down = _party(ctx.session, request["upstream"]), _party(ctx.session,
                                                                    request["downstream"])
        section = BasinSection(
            basin_id=found.id, code=request["code"], name=request["name"], kind=request["kind"],
            waterbody=request["waterbody"], upstream_party_id=up.id, downstream_party_id=down.id,
            lon=Decimal(request["lon"]) if request["lon"] else None,
            lat=Decimal(request["lat"]) if request["lat"] else None,
            position=request["position"], example=request["example"])
        ctx.session.add(section)
        ctx.session.flush()
        return section_view(section, {up.id: up, down.id: down})

    return _write(session, "section.add", actor, request, action, idempotency_key)


QUALITY_KINDS = ("pollutant_load", "class_step", "p_index")


def _check_rule(session: Session, basin: Basin, agreement_code: str, n: int,
                spec: Mapping[str, Any]) -> tuple[BasinSection | None, str, dict[str, Any]]:
    kind = str(spec.get("kind") or "")
    params = spec.get("params")
    parsed = method.parse_rule(kind, params if isinstance(params, Mapping) else {})
    code = spec.get("section")
    section = None
    if code:
        section = session.scalar(select(BasinSection).where(
            BasinSection.basin_id == basin.id, BasinSection.code == str(code)))
        if section is None:
            raise InvalidInput(f"规则 {n}：断面 {code!r} 不在流域 {basin.code}",
                               f"rule {n}: section {code!r} is not in basin {basin.code}")
    if kind in (*method.MONTHLY_KINDS, "p_index") and section is None:
        raise InvalidInput(f"规则 {n}（{kind}）须指明断面", f"rule {n} ({kind}) needs a section")
    if section is not None:
        wanted = "quality" if kind in QUALITY_KINDS else "quantity"
        if section.kind not in (wanted, "both"):
            raise InvalidInput(f"规则 {n}：断面 {section.code} 不是{wanted}断面",
                               f"rule {n}: section {section.code} is not a {wanted} section")
    for clause_section in method.sections_of(parsed):
        if not session.scalar(select(BasinSection.id).where(
                BasinSection.basin_id == basin.id, BasinSection.code == clause_section)):
            raise InvalidInput(f"规则 {n}：基金条款的断面 {clause_section!r} 不在流域内",
                               f"rule {n}: fund clause section {clause_section!r} is not in "
                               "the basin")
    if isinstance(parsed, method.FundRule):
        for region in {*parsed.contributions, *parsed.allocations}:
            _party(session, region)
    return section, kind, dict(params or {})


def _date(name: str, value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput(f"{name} {value!r} 不是日期", f"{name} {value!r} is not a date") \
            from None


def agreement_view(agreement: BasinAgreement, rules: list[BasinRule],
                   sections: Mapping[int, BasinSection]) -> dict[str, Any]:
    return {"id": agreement.id, "code": agreement.code, "name": agreement.name,
            "valid_from": agreement.valid_from.isoformat(),
            "valid_to": agreement.valid_to.isoformat() if agreement.valid_to else None,
            "source": agreement.source, "example": agreement.example,
            "rules": [{"id": r.id, "kind": r.kind, "section": sections[r.section_id].code
                       if r.section_id else None, "params": r.params} for r in rules]}


def add_agreement(session: Session, who: Actor, spec: Mapping[str, Any],
                  idempotency_key: str | None = None) -> dict[str, Any]:
    """An agreement and its rules as data: {code, name, basin, valid_from, valid_to,
    source, example, rules: [{kind, section, params}]}. Every rule is checked as the
    method will read it (figures, units, months) before anything is written."""
    actor = actor_for(who, WRITERS)
    if not isinstance(spec, Mapping):  # a JSON file may hold a list or a bare value
        raise InvalidInput("协议须为 JSON 对象 {code, name, basin, valid_from, rules, ...}",
                           "an agreement must be a JSON object {code, name, basin, "
                           "valid_from, rules, ...}")
    valid_from = _date("valid_from", spec.get("valid_from"))
    if valid_from is None:
        raise InvalidInput("valid_from 必填", "valid_from is required")
    valid_to = _date("valid_to", spec.get("valid_to"))
    if valid_to is not None and valid_to < valid_from:
        raise InvalidInput("valid_to 早于 valid_from", "valid_to is before valid_from")
    rules = spec.get("rules")
    if not isinstance(rules, list) or not rules:
        raise InvalidInput("协议须至少有一条规则", "an agreement needs at least one rule")
    request: dict[str, Any] = {"code": require_text("协议代码 code", spec.get("code"), 60),
               "name": require_text("协议名称 name", spec.get("name"), 300),
               "basin": require_text("流域 basin", spec.get("basin"), 40),
               "valid_from": valid_from.isoformat(),
               "valid_to": valid_to.isoformat() if valid_to else None,
               "source": require_text("来源 source", spec.get("source"), 4000),
               "example": bool(spec.get("example", False)), "rules": rules}

    def action(ctx: WriteContext) -> dict[str, Any]:
        basin = get_basin(ctx.session, request["basin"])
        if ctx.session.scalar(select(BasinAgreement.id).where(
                BasinAgreement.code == request["code"])):
            raise Conflict(f"协议 {request['code']} 已登记", f"agreement {request['code']} exists")
        checked = [_check_rule(ctx.session, basin, request["code"], n, rule
                               if isinstance(rule, Mapping) else {})
                   for n, rule in enumerate(rules, 1)]
        agreement = BasinAgreement(
            code=request["code"], name=request["name"], basin_id=basin.id,
            valid_from=valid_from, valid_to=valid_to, source=request["source"],
            example=request["example"], created_by=actor)
        ctx.session.add(agreement)
        ctx.session.flush()
        made = [BasinRule(agreement_id=agreement.id, section_id=section.id if section else None,
                          kind=kind, params=params) for section, kind, params in checked]
        ctx.session.add_all(made)
        ctx.session.flush()
        sections = {s.id: s for s, _, _ in checked if s is not None}
        return agreement_view(agreement, made, sections)

    return _write(session, "agreement.add", actor, request, action, idempotency_key)


def rule_template(rule_set: str, on: date | None) -> dict[str, Any]:
    """The cited figures of a known rule set valid on a date (values, units, sources);
    without a date, those in force today."""
    on = on or date.today()
    return {"rule_set": rule_set, "date": on.isoformat(),
            "figures": {name: {"value": f"{value:f}", **parameter}
                        for name, (value, parameter) in
                        method.template_values(rule_set, on).items()}}


# --- monitoring data, assessment, settlement ----------------------------------------

def import_monitoring(session: Session, who: Actor, key: RegistryKey, *, basin: str,
                      filename: str, content: bytes, correction: bool = False,
                      reason: str | None = None, today: date | None = None,
                      progress: Callable[[int, int], None] | None = None,
                      idempotency_key: str | None = None) -> dict[str, Any]:
    """A monitoring file, all or nothing. A correction (months already recorded with
    other figures) needs `correction` and a reason; it adds new versions of those months
    and, in the same write, re-assesses every corrected month that had a statement and
    re-settles every year that had a settlement: new statement versions, the old kept."""
    actor = actor_for(who, WRITERS)
    if correction:
        reason = require_text("更正原因 reason", reason, 2000)
    found = get_basin(session, basin)
    sections = {s.code: s for s in session.scalars(
        select(BasinSection).where(BasinSection.basin_id == found.id))}
    rows = monitoring.read_table(filename, content)
    drafts, problems = monitoring.check_rows(rows, sections, today=today or date.today(),
                                             progress=progress)
    if problems:
        raise MonitoringImportRefused(problems)
    request: dict[str, Any] = {"basin": basin, "filename": filename,
                               "sha256": monitoring.digest(content),
               "correction": correction, "reason": reason}
    codes = {s.id: s.code for s in sections.values()}

    def action(ctx: WriteContext) -> dict[str, Any]:
        planned = monitoring.plan(ctx.session, drafts, correction=correction, codes=codes)
        record = monitoring.write(ctx.session, basin_id=found.id, filename=filename,
                                  sha256=request["sha256"], rows=len(drafts), planned=planned,
                                  correction=correction, reason=reason, actor=actor)
        result: dict[str, Any] = {
            "import_id": record.id, "rows": len(drafts), "new": len(planned.new),
            "corrected": len(planned.corrected), "unchanged": len(planned.unchanged)}
        if planned.corrected:
            result.update(_after_correction(ctx.session, key, found, planned, actor,
                                            today or date.today()))
        return result

    return _write(session, "monitoring.import", actor, request, action, idempotency_key)


def _after_correction(session: Session, key: RegistryKey, basin: Basin,
                      planned: monitoring.Plan, actor: str, today: date) -> dict[str, Any]:
    keys = {(d.section_id, d.period) for _, d in planned.corrected}
    assessed = assessment.current_assessments(session, sorted({k[0] for k in keys}),
                                              sorted({k[1] for k in keys}))
    periods = sorted({period for (section_id, period) in keys if (section_id, period)
                      in assessed})
    out: dict[str, Any] = {"reassessed": [], "resettled": []}
    if not periods:
        return out
    items, _missing = assessment.gather(session, basin, periods)
    items = [item for item in items if (item.section.id, item.period) in assessed]
    assessment.compute(items)
    made, _ = assessment.record(session, key, items, basin=basin,
                                parties=assessment.parties_by_id(session), actor=actor)
    out["reassessed"] = [a.number for a in made]
    years = sorted({p.year for p in periods})
    for year in years:
        settled = session.scalar(select(func.count(Settlement.id)).where(
            Settlement.basin_id == basin.id, Settlement.year == year,
            Settlement.current.is_(True)))
        if settled:
            result = assessment.settle(session, key, basin, year, actor=actor, today=today)
            out["resettled"].append({"year": year, "new_statements":
                                     result["new_statements"]})
    return out


def assess(session: Session, who: Actor, key: RegistryKey, *, basin: str, year: int,
           month: int | None = None, today: date | None = None,
           idempotency_key: str | None = None) -> dict[str, Any]:
    """Monthly statements of a basin's sections for one month or a whole year (months
    that have begun). A month without data, or without a figure a rule needs, is listed
    under `missing` and gets no statement; assessing again changes nothing unless a row
    or a rule did."""
    actor = actor_for(who, WRITERS)
    periods = assessment.months_of(year, month, today or date.today())
    request = {"basin": basin, "year": year, "month": month}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return assessment.assess(ctx.session, key, get_basin(ctx.session, basin), periods,
                                 actor=actor)

    return _write(session, "assess", actor, request, action, idempotency_key)


def settle(session: Session, who: Actor, key: RegistryKey, *, basin: str, year: int,
           today: date | None = None, idempotency_key: str | None = None) -> dict[str, Any]:
    """The year's settlement per pair of parties (two-way payments netted) and each
    party's position in a joint fund; refused while a month lacks its statement."""
    actor = actor_for(who, WRITERS)
    request = {"basin": basin, "year": year}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return assessment.settle(ctx.session, key, get_basin(ctx.session, basin), year,
                                 actor=actor, today=today or date.today())

    return _write(session, "settle", actor, request, action, idempotency_key)


# --- reads ---------------------------------------------------------------------------

def _reader(who: Actor) -> None:
    actor_for(who, READERS)


def _parties(session: Session) -> dict[int, BasinParty]:
    return assessment.parties_by_id(session)


def monthly_view(statement: Assessment, section: BasinSection) -> dict[str, Any]:
    return {"number": statement.number, "section": section.code, "section_name": section.name,
            "period": f"{statement.period:%Y-%m}", "version": statement.version,
            "current": statement.current, "to_upstream_yuan": yuan_text(statement.to_upstream),
            "payer": statement.facts.get("payer"), "payee": statement.facts.get("payee"),
            "amount_yuan": statement.facts.get("amount_yuan"),
            "class": next((line["class"] for line in statement.lines
                           if line.get("kind") == "class_step"), None),
            "example": bool(statement.facts.get("note"))}


def settlement_view(statement: Settlement) -> dict[str, Any]:
    facts = statement.facts
    return {"number": statement.number, "year": statement.year, "version": statement.version,
            "current": statement.current, "party_a": facts["party_a"],
            "party_b": facts["party_b"], "a_to_b_yuan": facts["a_to_b_yuan"],
            "b_to_a_yuan": facts["b_to_a_yuan"], "payer": facts["payer"],
            "payee": facts["payee"], "net_yuan": facts["net_yuan"],
            "lines": len(statement.lines), "example": bool(facts.get("note"))}


def list_basins(session: Session, who: Actor) -> list[dict[str, Any]]:
    _reader(who)
    return [basin_view(b) for b in session.scalars(select(Basin).order_by(Basin.id))]


def _sections(session: Session, basin: Basin) -> list[BasinSection]:
    return list(session.scalars(select(BasinSection).where(BasinSection.basin_id == basin.id)
                                .order_by(BasinSection.position, BasinSection.id)))


def shown_year(year: int | None, today: date | None = None) -> int:
    """The year a view shows when none is asked for: the last whole year (the latest one
    that can be settled)."""
    return year if year is not None else (today or date.today()).year - 1


def basin_detail(session: Session, who: Actor, code: str, year: int | None) -> dict[str, Any]:
    """A basin for its page: sections (with parties and coordinates), agreements, and
    for the year (default: the last whole one) each section's monthly class and money,
    and the current settlements."""
    _reader(who)
    year = shown_year(year)
    basin = get_basin(session, code)
    parties = _parties(session)
    sections = _sections(session, basin)
    by_id = {s.id: s for s in sections}
    periods = [date(year, m, 1) for m in range(1, 13)]
    monthly = assessment.current_assessments(session, list(by_id), periods)
    agreements = list(session.scalars(select(BasinAgreement).where(
        BasinAgreement.basin_id == basin.id).order_by(BasinAgreement.id)))
    rules = list(session.scalars(select(BasinRule).where(
        BasinRule.agreement_id.in_([a.id for a in agreements] or [0])).order_by(BasinRule.id)))
    settlements = session.scalars(select(Settlement).where(
        Settlement.basin_id == basin.id, Settlement.year == year,
        Settlement.current.is_(True)).order_by(Settlement.id))
    return {
        **basin_view(basin), "year": year,
        "sections": [section_view(s, parties) for s in sections],
        "agreements": [agreement_view(a, [r for r in rules if r.agreement_id == a.id], by_id)
                       for a in agreements],
        "months": [f"{p:%Y-%m}" for p in periods],
        "statements": [monthly_view(a, by_id[a.section_id])
                       for _, a in sorted(monthly.items(), key=lambda kv: (kv[0][1], kv[0][0]))],
        "settlements": [settlement_view(s) for s in settlements],
    }


def overview(session: Session, who: Actor, year: int | None) -> dict[str, Any]:
    """The province's overview: every basin's sections, statements and money for the
    year (default: the last whole one), and each party's net position over all basins."""
    _reader(who)
    year = shown_year(year)
    basins = list(session.scalars(select(Basin).order_by(Basin.id)))
    parties = _parties(session)
    by_name = {statements.party_label(p): p for p in parties.values()}
    net: dict[str, int] = {}
    rows = []
    for basin in basins:
        sections = _sections(session, basin)
        current = list(session.scalars(select(Settlement).where(
            Settlement.basin_id == basin.id, Settlement.year == year,
            Settlement.current.is_(True))))
        monthly = assessment.current_assessments(
            session, [s.id for s in sections], [date(year, m, 1) for m in range(1, 13)])
        paid = sum(abs(a.to_upstream) for a in monthly.values())
        for s in current:
            a_name, b_name = s.facts["party_a"], s.facts["party_b"]
            net[a_name] = net.get(a_name, 0) + s.b_to_a - s.a_to_b
            if b_name in by_name:
                net[b_name] = net.get(b_name, 0) + s.a_to_b - s.b_to_a
        rows.append({**basin_view(basin), "sections": len(sections),
                     "statements": len(monthly), "monthly_total_yuan": yuan_text(paid),
                     "settlements": len(current)})
    return {"year": year, "basins": rows,
            "parties": [{"party": name, "net_yuan": yuan_text(fen)}
                        for name, fen in sorted(net.items(), key=lambda kv: -kv[1])]}


def _find(session: Session, number: str) -> Assessment | Settlement:
    found: Assessment | Settlement | None
    if number.startswith("QL-BS-"):
        found = session.scalar(select(Settlement).where(Settlement.number == number))
    else:
        found = session.scalar(select(Assessment).where(Assessment.number == number))
    if found is None:
        raise UnknownStatement(f"核算单 {number} 不存在", f"unknown statement {number}")
    return found


def _monitoring_view(row: MonitoringRow, source: MonitoringImport | None) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, dimension, unit in (("codmn", CONCENTRATION, "mg/L"), ("nh3n", CONCENTRATION,
                                  "mg/L"), ("tp", CONCENTRATION, "mg/L"),
                                  ("tn", CONCENTRATION, "mg/L"), ("volume", VOLUME, "m3"),
                                  ("min_flow", FLOW, "m3/s"), ("flow", FLOW, "m3/s")):
        value = getattr(row, name)
        figures[name] = None if value is None else {"value": text_of(dimension, value),
                                                    "unit": unit}
    return {"id": row.id, "version": row.version, "current": row.current,
            "period": f"{row.period:%Y-%m}", **figures,
            "file": source.filename if source else None, "line": row.source_row,
            "import_id": row.import_id, "correction_reason": source.reason if source else None}


def _versions(session: Session, statement: Assessment | Settlement) -> list[dict[str, Any]]:
    if isinstance(statement, Assessment):
        found = session.scalars(select(Assessment).where(
            Assessment.section_id == statement.section_id,
            Assessment.period == statement.period).order_by(Assessment.version))
        return [{"number": a.number, "version": a.version, "current": a.current,
                 "amount_yuan": a.facts.get("amount_yuan")} for a in found]
    settled = session.scalars(select(Settlement).where(
        Settlement.basin_id == statement.basin_id, Settlement.year == statement.year,
        Settlement.party_a_id == statement.party_a_id).order_by(Settlement.version))
    same = (statement.party_b_id, statement.agreement_id)
    return [{"number": s.number, "version": s.version, "current": s.current,
             "net_yuan": s.facts.get("net_yuan")} for s in settled
            if (s.party_b_id, s.agreement_id) == same]


def statement_view(session: Session, who: Actor, number: str) -> dict[str, Any]:
    """A statement with its lines and what each came from: a monthly statement's
    monitoring row (figures, file, line, correction reason), a settlement's monthly
    statements; and every version of it."""
    _reader(who)
    statement = _find(session, number)
    view: dict[str, Any] = {"number": statement.number, "facts": statement.facts,
                            "signature": statement.signature, "current": statement.current,
                            "lines": statement.lines, "versions": _versions(session, statement)}
    if isinstance(statement, Assessment):
        row = session.get(MonitoringRow, statement.monitoring_id)
        assert row is not None
        view["monitoring"] = _monitoring_view(row, session.get(MonitoringImport, row.import_id))
    else:
        numbers = [line["statement"] for line in statement.lines if "statement" in line]
        found = {a.number: a for a in session.scalars(
            select(Assessment).where(Assessment.number.in_(numbers or [""])))}
        view["sources"] = [{"number": n, "period": f"{found[n].period:%Y-%m}",
                            "to_upstream_yuan": yuan_text(found[n].to_upstream),
                            "current": found[n].current} for n in numbers if n in found]
    return view


def _source_rows(view: dict[str, Any]) -> list[tuple[str, str]]:
    """What a monthly statement was made from, for its PDF: the monitoring row's figures
    and the file line they were read from."""
    row = view.get("monitoring")
    if not row:
        return []
    figures = ", ".join(f"{name} {value['value']} {value['unit']}" for name, value in row.items()
                        if isinstance(value, dict))
    where = f"{row['file']} 第{row['line']}行 line {row['line']}"
    reason = f" · 更正 correction: {row['correction_reason']}" if row["correction_reason"] else ""
    return [("监测值 Monitoring figures", f"#{row['id']} v{row['version']} · {figures}"),
            ("数据来源 Source", where + reason)]


def statement_pdf(session: Session, who: Actor, number: str) -> bytes:
    """A statement as its signed PDF (Chinese with English beside it)."""
    view = statement_view(session, who, number)
    return statements.render_pdf(_find(session, number), _source_rows(view))


def statement_csv(session: Session, who: Actor, number: str) -> str:
    """A statement's lines as CSV, one row each, with the rows they came from."""
    _reader(who)
    statement = _find(session, number)
    if isinstance(statement, Assessment):
        section = session.get(BasinSection, statement.section_id)
        row = session.get(MonitoringRow, statement.monitoring_id)
        assert section is not None and row is not None
        rows = statements.csv_rows(statement, section=section.code,
                                   period=f"{statement.period:%Y-%m}",
                                   monitoring=f"{row.id}v{row.version}")
    else:
        rows = statements.csv_rows(statement)
    return statements.to_csv(rows)


def year_csv(session: Session, who: Actor, basin: str, year: int | None) -> str:
    """Every current statement line of a basin's year (monthly statements, then the
    settlements), one CSV: each figure with the statement, rule and row it came from."""
    _reader(who)
    year = shown_year(year)
    found = get_basin(session, basin)
    sections = {s.id: s for s in _sections(session, found)}
    monthly = assessment.current_assessments(session, list(sections),
                                             [date(year, m, 1) for m in range(1, 13)])
    rows: list[dict[str, Any]] = []
    for (section_id, period), statement in sorted(monthly.items(),
                                                  key=lambda kv: (kv[0][1], kv[0][0])):
        rows += statements.csv_rows(statement, section=sections[section_id].code,
                                    period=f"{period:%Y-%m}",
                                    monitoring=str(statement.facts.get("monitoring", "")))
    for settlement in session.scalars(select(Settlement).where(
            Settlement.basin_id == found.id, Settlement.year == year,
            Settlement.current.is_(True)).order_by(Settlement.id)):
        rows += statements.csv_rows(settlement)
    return statements.to_csv(rows)


def list_statements(session: Session, who: Actor, basin: str, year: int) -> dict[str, Any]:
    _reader(who)
    detail = basin_detail(session, who, basin, year)
    return {"basin": basin, "year": year, "monthly": detail["statements"],
            "settlements": detail["settlements"]}


def verify_statement(session: Session, key: RegistryKey, *, number: str | None = None,
                     payload: str | None = None) -> dict[str, Any]:
    """Anyone may check a statement: its number is registered, the registry's copy matches
    its signature, a presented payload (QR, PDF) is signed and says the same, and its
    lines still follow from the rows now in the database."""
    problems: list[str] = []
    presented = signature = None
    if payload:
        try:
            presented, signature = decode_payload(payload)
        except InvalidInput as exc:
            return {"number": number, "valid": False, "problems": [exc.message]}
        number = number or str(presented.get("number", ""))
    if not number:
        raise InvalidInput("请给出编号或二维码内容", "give a number or a payload")
    try:
        statement = _find(session, number)
    except UnknownStatement as exc:
        return {"number": number, "valid": False, "problems": [exc.message]}
    if not verify(statement.facts, statement.signature, key.public):
        problems.append("登记簿中的核算单内容与签名不符 / the registry's copy does not match "
                        "its signature")
    if presented is not None and signature is not None:
        if not verify(presented, signature, key.public):
            problems.append("签名无效：内容被改动或非本登记簿签发 / bad signature")
        for name in sorted(set(presented) | set(statement.facts)):
            if presented.get(name) != statement.facts.get(name):
                problems.append(f"{name} 与登记簿不符 / {name} differs: "
                                f"{presented.get(name)!r} vs {statement.facts.get(name)!r}")
    if statements.digest(statement.lines) != statement.facts.get("lines_sha256"):
        problems.append("明细已被改动 / the statement's lines were changed after signing")
    problems += _recheck(session, statement)
    superseded_by = None
    if not statement.current:
        later = [v for v in _versions(session, statement) if v["current"]]
        superseded_by = later[0]["number"] if later else None
    return {"number": number, "valid": not problems, "problems": problems,
            "current": statement.current, "superseded_by": superseded_by,
            "facts": statement.facts}


def _recheck(session: Session, statement: Assessment | Settlement) -> list[str]:
    """Lines re-derived from the rows now stored: a monitoring row or rule changed behind
    the ledger's back, or a monthly statement's amount changed, shows here."""
    if isinstance(statement, Settlement):
        problems = []
        numbers = {line["statement"]: line for line in statement.lines if "statement" in line}
        found = {a.number: a for a in session.scalars(
            select(Assessment).where(Assessment.number.in_(list(numbers) or [""])))}
        for number, line in numbers.items():
            source = found.get(number)
            if source is None or yuan_text(source.to_upstream) != line["to_upstream_yuan"]:
                problems.append(f"月度核算单 {number} 与清算明细不符 / monthly statement "
                                f"{number} differs from the settlement line")
        a_to_b = sum(int(line["a_to_b_fen"]) for line in statement.lines)
        b_to_a = sum(int(line["b_to_a_fen"]) for line in statement.lines)
        if (a_to_b, b_to_a) != (statement.a_to_b, statement.b_to_a):
            problems.append("清算金额与明细之和不符 / the totals differ from the lines")
        return problems
    section = session.get(BasinSection, statement.section_id)
    row = session.get(MonitoringRow, statement.monitoring_id)
    if section is None or row is None:
        return ["监测数据缺失 / the monitoring row is missing"]
    rules = assessment.monthly_rules(assessment.rules_of(session, section.basin_id),
                                     section.id, statement.period)
    item = assessment.Item(section, statement.period, row, rules)
    assessment.compute([item])
    problems = []
    if item.lines != statement.lines:
        problems.append("按现存监测数据与规则重算的明细与核算单不符 / recomputed from the "
                        "stored monitoring row and rules, the lines differ")
    if item.total != statement.to_upstream:
        problems.append("金额与明细之和不符 / the amount differs from its lines")
    return problems
