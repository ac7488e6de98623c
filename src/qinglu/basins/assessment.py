"""Monthly assessment and yearly settlement.

A month of a section is assessed against every monthly rule of the agreements in force
on the month's first day (methods/basin.py computes them for all rows at once). Each
assessment is a statement with its lines (one per rule and indicator, each naming the
monitoring row version and the rule it came from) and a number; assessing again gives
a new version only when the lines changed (a corrected monitoring row, a changed rule),
and the old version is kept, no longer current.

A year is settled per pair of parties of a basin once every month of every section
with a monthly rule in force has a current statement (a missing month is named, never
taken as zero). Two-way payments between the pair are netted. Yearly rules (P index,
joint fund) are computed at settlement from the year's monitoring rows.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.basins import statements
from qinglu.basins.models import (
    Assessment,
    Basin,
    BasinAgreement,
    BasinParty,
    BasinRule,
    BasinSection,
    MonitoringRow,
    Settlement,
)
from qinglu.core.errors import Conflict, InvalidInput
from qinglu.documents.signing import RegistryKey
from qinglu.methods import basin as method
from qinglu.methods import water
from qinglu.methods.basin_units import CONCENTRATION, FLOW, RATE, VOLUME, text_of, yuan_text

INDICATOR_COLUMNS = {"CODMn": "codmn", "NH3-N": "nh3n", "TP": "tp", "TN": "tn"}


class MissingMonths(Conflict):
    code = "basin-missing-months"


@dataclass(frozen=True)
class RuleInForce:
    rule: BasinRule
    agreement: BasinAgreement
    parsed: method.Rule

    def applies(self, period: date) -> bool:
        valid_to = self.agreement.valid_to
        return self.agreement.valid_from <= period and (valid_to is None or period <= valid_to)

    def tag(self) -> dict[str, Any]:
        return {"rule": self.rule.id, "kind": self.rule.kind, "agreement": self.agreement.code,
                "example": self.agreement.example}


@dataclass
class Item:
    """One section's month to assess: its current monitoring row and the rules in force."""

    section: BasinSection
    period: date
    row: MonitoringRow
    rules: list[RuleInForce]
    lines: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0


def rules_of(session: Session, basin_id: int) -> list[RuleInForce]:
    found = session.execute(
        select(BasinRule, BasinAgreement).join(BasinAgreement,
                                               BasinAgreement.id == BasinRule.agreement_id)
        .where(BasinAgreement.basin_id == basin_id).order_by(BasinRule.id)).all()
    return [RuleInForce(rule, agreement, method.parse_rule(rule.kind, rule.params))
            for rule, agreement in found]


def monthly_rules(rules: list[RuleInForce], section_id: int, period: date) -> list[RuleInForce]:
    return [r for r in rules if r.rule.section_id == section_id
            and r.rule.kind in method.MONTHLY_KINDS and r.applies(period)]


def needed_figures(rules: list[RuleInForce]) -> list[str]:
    needed: list[str] = []
    for rif in rules:
        parsed = rif.parsed
        if isinstance(parsed, method.ClassStepRule):
            needed += ["codmn", "nh3n", "tp"]
        elif isinstance(parsed, method.LoadRule):
            needed += [INDICATOR_COLUMNS[name] for name in parsed.indicators] + ["volume"]
        elif isinstance(parsed, method.QuantityRule):
            needed += ["volume", "min_flow"]
    return list(dict.fromkeys(needed))


def _values(items: list[Item], column: str) -> np.ndarray:
    return np.array([getattr(item.row, column) if getattr(item.row, column) is not None
                     else water.MISSING for item in items], dtype=np.int64)


def _classes(items: list[Item], wanted: list[tuple[int, method.ClassStepRule]]
             ) -> dict[int, tuple[int, dict[str, int]]]:
    """The water class of each item a class-step rule needs, by (water body, month)."""
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for index, rule in wanted:
        groups[(rule.waterbody, items[index].period)].append(index)
    out = {}
    for (body, period), indexes in groups.items():
        indexes = sorted(set(indexes))
        chosen = [items[i] for i in indexes]
        arrays = {name: _values(chosen, column) for name, column in INDICATOR_COLUMNS.items()}
        worst, per = water.classify_batch(arrays, water.limits_on(body, period))
        for n, index in enumerate(indexes):
            out[index] = (int(worst[n]), {k: int(v[n]) for k, v in per.items()})
    return out


def _step_lines(items: list[Item]) -> tuple[method.StepBatch | None, list[Any]]:
    evals = [(i, rif) for i, item in enumerate(items) for rif in item.rules
             if isinstance(rif.parsed, method.ClassStepRule)]
    if not evals:
        return None, []
    classes = _classes(items, [(i, rif.parsed) for i, rif in evals])  # type: ignore[misc]
    rules = [rif.parsed for _, rif in evals]
    batch = method.StepBatch(
        row=np.array([i for i, _ in evals], dtype=np.int64),
        klass=np.array([classes[i][0] for i, _ in evals], dtype=np.int64),
        target=np.array([r.target_class for r in rules], dtype=np.int64),  # type: ignore[union-attr]
        better=np.array([r.better_fen for r in rules], dtype=np.int64),  # type: ignore[union-attr]
        worse=np.array([r.worse_fen for r in rules], dtype=np.int64),  # type: ignore[union-attr]
        two_way=np.array([r.two_way for r in rules], dtype=np.bool_))  # type: ignore[union-attr]
    return batch, [(i, rif, classes[i]) for i, rif in evals]


def _load_lines(items: list[Item]) -> tuple[method.LoadBatch | None, list[Any]]:
    evals = [(i, rif, name) for i, item in enumerate(items) for rif in item.rules
             if isinstance(rif.parsed, method.LoadRule) for name in rif.parsed.indicators]
    if not evals:
        return None, []
    targets = [rif.parsed.target_on(name, items[i].period)  # type: ignore[union-attr]
               for i, rif, name in evals]
    batch = method.LoadBatch(
        row=np.array([i for i, _, _ in evals], dtype=np.int64),
        measured=np.array([getattr(items[i].row, INDICATOR_COLUMNS[name])
                           for i, _, name in evals], dtype=np.int64),
        target=np.array(targets, dtype=np.int64),
        volume=np.array([items[i].row.volume for i, _, _ in evals], dtype=np.int64),
        rate=np.array([rif.parsed.rates[name] for _, rif, name in evals],  # type: ignore[union-attr]
                      dtype=np.int64),
        two_way=np.array([rif.parsed.two_way for _, rif, _ in evals], dtype=np.bool_))  # type: ignore[union-attr]
    return batch, evals


QUANTITY_INDICATORS = (("volume", VOLUME, "m3"), ("min_flow", FLOW, "m3/s"))


def _quantity_lines(items: list[Item]) -> tuple[method.QuantityBatch | None, list[Any]]:
    evals = [(i, rif, name) for i, item in enumerate(items) for rif in item.rules
             if isinstance(rif.parsed, method.QuantityRule) for name, _, _ in QUANTITY_INDICATORS]
    if not evals:
        return None, []

    def figure(rule: method.QuantityRule, name: str, month: int) -> tuple[int, int, int]:
        if name == "volume":
            return rule.volume_targets[month], rule.volume_attained_fen, rule.volume_missed_fen
        return rule.flow_targets[month], rule.flow_attained_fen, rule.flow_missed_fen

    figures = [figure(rif.parsed, name, items[i].period.month)  # type: ignore[arg-type]
               for i, rif, name in evals]
    batch = method.QuantityBatch(
        row=np.array([i for i, _, _ in evals], dtype=np.int64),
        value=np.array([getattr(items[i].row, name) for i, _, name in evals], dtype=np.int64),
        target=np.array([f[0] for f in figures], dtype=np.int64),
        attained=np.array([f[1] for f in figures], dtype=np.int64),
        missed=np.array([f[2] for f in figures], dtype=np.int64))
    return batch, evals


def _money(fen: int) -> dict[str, Any]:
    return {"to_upstream_fen": fen, "to_upstream_yuan": yuan_text(fen)}


def compute(items: list[Item]) -> None:
    """Fill each item's lines and total: every monthly rule over every item at once."""
    steps, step_evals = _step_lines(items)
    loads, load_evals = _load_lines(items)
    quantities, quantity_evals = _quantity_lines(items)
    result = method.assess_monthly(len(items), steps, loads, quantities)
    if result.steps is not None:
        steps_better, paid = result.steps
        for n, (i, rif, (klass, per)) in enumerate(step_evals):
            rule = rif.parsed
            items[i].lines.append({
                **rif.tag(), "indicator": "class", "class": water.CLASSES[klass],
                "target_class": water.CLASSES[rule.target_class],
                "indicator_classes": {k: water.CLASSES[v] for k, v in per.items()},
                "deciding": [k for k, v in per.items() if v == klass],
                "steps_better": int(steps_better[n]),
                "per_class_yuan": yuan_text(rule.better_fen if steps_better[n] > 0
                                            else rule.worse_fen),
                **_money(int(paid[n]))})
    if result.loads is not None and loads is not None:
        excess, paid = result.loads
        for n, (i, rif, name) in enumerate(load_evals):
            items[i].lines.append({
                **rif.tag(), "indicator": name,
                "measured": text_of(CONCENTRATION, int(loads.measured[n])),
                "target": text_of(CONCENTRATION, int(loads.target[n])), "unit": "mg/L",
                "volume_m3": text_of(VOLUME, int(loads.volume[n])),
                "rate_wan_yuan_per_t": text_of(RATE, int(loads.rate[n])),
                "excess_t": method.tonnes_text(int(excess[n])), **_money(int(paid[n]))})
    if result.quantities is not None and quantities is not None:
        attained, paid = result.quantities
        for n, (i, rif, name) in enumerate(quantity_evals):
            dimension, unit = next((d, u) for key, d, u in QUANTITY_INDICATORS if key == name)
            items[i].lines.append({
                **rif.tag(), "indicator": name,
                "value": text_of(dimension, int(quantities.value[n])),
                "target": text_of(dimension, int(quantities.target[n])), "unit": unit,
                "attained": bool(attained[n]), **_money(int(paid[n]))})
    for i, item in enumerate(items):
        item.total = int(result.row_total[i])


# --- assessing a basin's months ------------------------------------------------------

def months_of(year: int, month: int | None, today: date) -> list[date]:
    months = [month] if month is not None else list(range(1, 13))
    for m in months:
        if not 1 <= m <= 12:
            raise InvalidInput(f"月份 {m} 无效", f"month {m} is not 1-12")
    return [date(year, m, 1) for m in months if date(year, m, 1) <= today]


def gather(session: Session, basin: Basin, periods: list[date]
           ) -> tuple[list[Item], list[dict[str, str]]]:
    """The section-months to assess, and those that cannot be (no data, or a figure a
    rule needs is missing), each with its reason."""
    rules = rules_of(session, basin.id)
    sections = list(session.scalars(select(BasinSection).where(BasinSection.basin_id == basin.id)
                                    .order_by(BasinSection.position, BasinSection.id)))
    rows = {(row.section_id, row.period): row for row in session.scalars(
        select(MonitoringRow).where(
            MonitoringRow.section_id.in_([s.id for s in sections] or [0]),
            MonitoringRow.current.is_(True), MonitoringRow.period.in_(periods or [date.min])))}
    items, missing = [], []
    for period in periods:
        for section in sections:
            in_force = monthly_rules(rules, section.id, period)
            if not in_force:
                continue
            row = rows.get((section.id, period))
            if row is None:
                missing.append({"section": section.code, "period": f"{period:%Y-%m}",
                                "reason": "无监测数据 no monitoring data"})
                continue
            lacking = [name for name in needed_figures(in_force) if getattr(row, name) is None]
            if lacking:
                missing.append({"section": section.code, "period": f"{period:%Y-%m}",
                                "reason": f"缺少 missing {', '.join(lacking)}"})
                continue
            items.append(Item(section, period, row, in_force))
    return items, missing


def current_assessments(session: Session, section_ids: list[int], periods: list[date]
                        ) -> dict[tuple[int, date], Assessment]:
    if not section_ids or not periods:
        return {}
    found = session.scalars(select(Assessment).where(
        Assessment.section_id.in_(section_ids), Assessment.period.in_(periods),
        Assessment.current.is_(True)))
    return {(a.section_id, a.period): a for a in found}


def record(session: Session, key: RegistryKey, items: list[Item], *, basin: Basin,
           parties: dict[int, BasinParty], actor: str) -> tuple[list[Assessment], int]:
    """Statements for the items whose lines differ from their current statement: (new
    statements, how many were unchanged). The previous version stays, not current."""
    previous = current_assessments(session, sorted({i.section.id for i in items}),
                                   sorted({i.period for i in items}))
    made, unchanged = [], 0
    for item in items:
        before = previous.get((item.section.id, item.period))
        if before is not None and before.monitoring_id == item.row.id \
                and before.lines == item.lines:
            unchanged += 1
            continue
        if before is not None:
            before.current = False
        made.append(Assessment(
            number=statements.pending_number(), section_id=item.section.id, period=item.period,
            version=(before.version + 1) if before else 1, current=True,
            monitoring_id=item.row.id, to_upstream=item.total, lines=item.lines, facts={},
            signature="", key_id=key.key_id, supersedes_id=before.id if before else None,
            created_by=actor))
    session.flush()
    session.add_all(made)
    session.flush()
    by_id = {item.section.id: item.section for item in items}
    numbers = {a.id: a.number for a in previous.values()}
    for assessment in made:
        section = by_id[assessment.section_id]
        statements.sign_month(key, assessment, basin=basin, section=section,
                              upstream=parties[section.upstream_party_id],
                              downstream=parties[section.downstream_party_id],
                              row=next(i.row for i in items if i.section.id == section.id
                                       and i.period == assessment.period),
                              supersedes=numbers.get(assessment.supersedes_id or 0))
    session.flush()
    return made, unchanged


def parties_by_id(session: Session) -> dict[int, BasinParty]:
    return {p.id: p for p in session.scalars(select(BasinParty))}


def assess(session: Session, key: RegistryKey, basin: Basin, periods: list[date], *,
           actor: str) -> dict[str, Any]:
    items, missing = gather(session, basin, periods)
    compute(items)
    made, unchanged = record(session, key, items, basin=basin, parties=parties_by_id(session),
                             actor=actor)
    return {"basin": basin.code, "periods": [f"{p:%Y-%m}" for p in periods],
            "assessed": len(items), "new_statements": len(made), "unchanged": unchanged,
            "statements_sha256": statements.digest([a.facts for a in made]),
            "missing": missing}


# --- settling a year -----------------------------------------------------------------

@dataclass
class PairLines:
    party_a: BasinParty
    party_b: BasinParty | None
    agreement: BasinAgreement | None
    lines: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: dict[str, Any], a_to_b: int, b_to_a: int) -> None:
        self.lines.append({**line, "a_to_b_fen": a_to_b, "b_to_a_fen": b_to_a})


def _pair_key(up: BasinParty, down: BasinParty) -> tuple[BasinParty, BasinParty]:
    return (up, down) if up.region < down.region else (down, up)


def _directed(up: BasinParty, down: BasinParty, to_upstream: int,
              a: BasinParty) -> tuple[int, int]:
    """(a pays b, b pays a) in fen for a section's amount to its upstream party."""
    up_receives, down_receives = max(to_upstream, 0), max(-to_upstream, 0)
    return (up_receives, down_receives) if a.id == down.id else (down_receives, up_receives)


def _year_rows(session: Session, section: BasinSection, year: int) -> list[MonitoringRow]:
    return list(session.scalars(select(MonitoringRow).where(
        MonitoringRow.section_id == section.id, MonitoringRow.current.is_(True),
        MonitoringRow.period >= date(year, 1, 1), MonitoringRow.period <= date(year, 12, 1))
        .order_by(MonitoringRow.period)))


def annual_means(session: Session, section: BasinSection, year: int, indicators: list[str]
                 ) -> tuple[dict[str, Fraction], list[MonitoringRow]]:
    """Exact annual means of a section's indicators from its 12 current months; a missing
    month or figure is refused, never averaged over fewer months silently."""
    rows = _year_rows(session, section, year)
    months = {row.period.month for row in rows}
    missing = [m for m in range(1, 13) if m not in months]
    if missing:
        raise MissingMonths(f"断面 {section.code} {year} 年缺少月份 {missing}",
                            f"section {section.code} lacks months {missing} of {year}")
    means = {}
    for name in indicators:
        values = [getattr(row, INDICATOR_COLUMNS[name]) for row in rows]
        if any(v is None for v in values):
            raise MissingMonths(f"断面 {section.code} {year} 年缺少 {name} 的月值",
                                f"section {section.code} lacks monthly {name} in {year}")
        means[name] = method.annual_mean(values)
    return means, rows


def _row_refs(rows: list[MonitoringRow]) -> list[str]:
    return [f"{row.id}v{row.version}" for row in rows]


def _yearly(session: Session, basin: Basin, year: int, rules: list[RuleInForce],
            sections: dict[int, BasinSection], by_code: dict[str, BasinSection],
            parties: dict[int, BasinParty], pairs: dict[Any, PairLines]) -> None:
    regions = {p.region: p for p in parties.values()}
    for rif in rules:
        if rif.rule.kind not in method.YEARLY_KINDS or not rif.applies(date(year, 1, 1)):
            continue
        if isinstance(rif.parsed, method.PIndexRule):
            section = sections[rif.rule.section_id or 0]
            means, rows = annual_means(session, section, year, list(rif.parsed.weights))
            result = method.p_index(rif.parsed, means)
            up, down = (parties[section.upstream_party_id], parties[section.downstream_party_id])
            a, b = _pair_key(up, down)
            pair = pairs.setdefault((a.id, b.id, None), PairLines(a, b, None))
            pair.add({**rif.tag(), "section": section.code, "period": str(year),
                      "monitoring": _row_refs(rows), **result.as_dict()},
                     *_directed(up, down, result.to_upstream_fen, a))
        elif isinstance(rif.parsed, method.FundRule):
            fund = rif.parsed
            attains, refs = {}, {}
            for clause in fund.clauses:
                section = by_code[clause.section]
                means, rows = annual_means(session, section, year, list(water.REQUIRED))
                limits = water.limits_on(fund.waterbody, date(year, 1, 1))
                klass = max(method.class_of_mean(means[name], limits.by_indicator[name])
                            for name in water.REQUIRED)
                attains[clause.section] = klass <= fund.target_class
                refs[clause.section] = {"class": water.CLASSES[klass],
                                        "monitoring": _row_refs(rows)}
            position = method.joint_fund(fund, attains)
            for region in sorted(set(fund.contributions) | set(fund.allocations)):
                party = regions[region]
                pays = position.contributions.get(region, 0)
                gets = (position.allocations.get(region, 0) - position.cuts.get(region, 0)
                        + position.received.get(region, 0))
                pair = pairs.setdefault((party.id, None, rif.agreement.id),
                                        PairLines(party, None, rif.agreement))
                pair.add({**rif.tag(), "period": str(year), "sections": refs,
                          **{k: v.get(region, "0.00") for k, v in position.as_dict().items()
                             if isinstance(v, dict) and k != "net"}}, pays, gets)


def settle(session: Session, key: RegistryKey, basin: Basin, year: int, *, actor: str,
           today: date) -> dict[str, Any]:
    if date(year, 12, 31) >= today:
        raise InvalidInput(f"{year} 年尚未结束，不能年度清算",
                           f"{year} is not over; it cannot be settled yet")
    periods = [date(year, m, 1) for m in range(1, 13)]
    rules = rules_of(session, basin.id)
    sections = {s.id: s for s in session.scalars(
        select(BasinSection).where(BasinSection.basin_id == basin.id))}
    parties = parties_by_id(session)
    statements_by_key = current_assessments(session, list(sections), periods)
    missing = [f"{s.code} {p:%Y-%m}" for p in periods for s in sections.values()
               if monthly_rules(rules, s.id, p) and (s.id, p) not in statements_by_key]
    if missing:
        shown = ", ".join(missing[:24]) + (f" (+{len(missing) - 24})" if len(missing) > 24 else "")
        raise MissingMonths(f"以下断面月份没有月度核算结果，不能清算：{shown}",
                            f"these section-months have no monthly statement, so the year "
                            f"cannot be settled: {shown}")
    pairs: dict[Any, PairLines] = {}
    for (section_id, period), assessment in sorted(statements_by_key.items(),
                                                   key=lambda kv: (kv[0][1], kv[0][0])):
        section = sections[section_id]
        up, down = parties[section.upstream_party_id], parties[section.downstream_party_id]
        a, b = _pair_key(up, down)
        pair = pairs.setdefault((a.id, b.id, None), PairLines(a, b, None))
        pair.add({"statement": assessment.number, "version": assessment.version,
                  "section": section.code, "period": f"{period:%Y-%m}",
                  "to_upstream_yuan": yuan_text(assessment.to_upstream),
                  "example": bool(assessment.facts.get("note"))},
                 *_directed(up, down, assessment.to_upstream, a))
    _yearly(session, basin, year, rules, sections, {s.code: s for s in sections.values()},
            parties, pairs)
    made, unchanged = _record_settlements(session, key, basin, year, pairs, actor=actor)
    return {"basin": basin.code, "year": year, "pairs": len(pairs),
            "new_statements": len(made), "unchanged": unchanged,
            "statements_sha256": statements.digest([s.facts for s in made])}


def _totals(lines: list[dict[str, Any]]) -> tuple[int, int]:
    """(a pays b, b pays a) over a pair's lines, summed exactly in int64 by the method."""
    if not lines:
        return 0, 0
    index = np.zeros(len(lines), dtype=np.int64)
    a_to_b = method.sum_by(index, np.array([ln["a_to_b_fen"] for ln in lines], dtype=np.int64), 1)
    b_to_a = method.sum_by(index, np.array([ln["b_to_a_fen"] for ln in lines], dtype=np.int64), 1)
    return int(a_to_b[0]), int(b_to_a[0])


def _record_settlements(session: Session, key: RegistryKey, basin: Basin, year: int,
                        pairs: dict[Any, PairLines], *, actor: str
                        ) -> tuple[list[Settlement], int]:
    existing = {(s.party_a_id, s.party_b_id, s.agreement_id): s for s in session.scalars(
        select(Settlement).where(Settlement.basin_id == basin.id, Settlement.year == year,
                                 Settlement.current.is_(True)))}
    made, unchanged = [], 0
    for pair_key, pair in pairs.items():
        before = existing.get(pair_key)
        if before is not None and before.lines == pair.lines:
            unchanged += 1
            continue
        if before is not None:
            before.current = False
        a_to_b, b_to_a = _totals(pair.lines)
        settlement = Settlement(
            number=statements.pending_number(), basin_id=basin.id, year=year,
            party_a_id=pair.party_a.id, party_b_id=pair.party_b.id if pair.party_b else None,
            agreement_id=pair.agreement.id if pair.agreement else None,
            version=(before.version + 1) if before else 1, current=True, a_to_b=a_to_b,
            b_to_a=b_to_a, lines=pair.lines, facts={}, signature="", key_id=key.key_id,
            supersedes_id=before.id if before else None, created_by=actor)
        session.flush()
        session.add(settlement)
        session.flush()
        statements.sign_settlement(key, settlement, basin=basin, pair=pair,
                                   supersedes=before.number if before else None)
        made.append(settlement)
    session.flush()
    return made, unchanged
