"""Green electricity actions: power projects, monthly issuance of green certificates from
generation files, the expiry job, and green-power claims.

Certificates are registry units of product GEC (1 unit = 1 certificate = 1,000 kWh).
Each month of a project is one registry issuance carrying the product's rules for its
units: tradable or not (technology, commissioning date, self-consumption) and the last
day it is valid; the registry refuses to move them against those rules on both of its
paths. A claim retires (核销) certificates for a consumer and a period in one ledger
write with its signed certificate, so a certificate is never claimed twice: retired
units never move again, and concurrent claims queue on the account's lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from qinglu.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    require_text,
)
from qinglu.core.ledger import WriteContext, run_write
from qinglu.core.models import utcnow
from qinglu.core.paging import read_paging
from qinglu.core.principal import Actor, actor_for
from qinglu.core.quantities import parse_quantity
from qinglu.db.engine import is_postgresql, on_postgres
from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey
from qinglu.green import generation
from qinglu.green.generation import GenerationImportRefused, ProjectState
from qinglu.green.models import GenerationMonth, GreenClaim, PowerProject
from qinglu.market import actions as market
from qinglu.methods import green as method
from qinglu.registry import actions as registry

PRODUCT = "GEC"
METHODOLOGY = "NEA-GEC-2024-67"
WRITERS = ("operator",)
__all__ = ["GenerationImportRefused"]


class UnknownPowerProject(NotFound):
    code = "unknown-power-project"






def filing_code(text: str) -> str:
    """A project's 17-character national filing code (建档立卡), checked as leniently as
    the serial it opens (methods/green.py: the check code's algorithm is unpublished)."""
    code = (text or "").strip().upper()
    if len(code) != method.PROJECT_CODE_LENGTH or not (code.isascii() and code.isalnum()):
        raise InvalidInput(f"建档立卡编码须为 17 位字母数字：{text!r}",
                           f"a filing code has 17 letters or digits: {text!r}")
    return code


def project_view(project: PowerProject, name: str | None = None) -> dict[str, Any]:
    return {"id": project.id, "filing_code": project.filing_code, "name": name,
            "project_id": project.project_id, "account_id": project.account_id,
            "technology": project.technology, "commissioned": project.commissioned.isoformat(),
            "self_consumed": project.self_consumed,
            "certificates": method.tradability(project.technology, project.commissioned,
                                               project.self_consumed),
            "carried_kwh": project.carried_kwh,
            "last_month": project.last_month.strftime("%Y-%m") if project.last_month else None}


def register_project(session: Session, who: Actor, *, name: str, filing_code_text: str,
                     technology: str, commissioned: date, region: str, account_id: int,
                     self_consumed: bool = False,
                     idempotency_key: str | None = None) -> dict[str, Any]:
    """File a renewable power project (建档立卡) and open its registry project, in one
    write. Storage is refused: its discharge gets no certificates."""
    actor = actor_for(who, WRITERS)
    code = filing_code(filing_code_text)
    name = require_text("项目名称 name", name)
    if method.tradability(technology, commissioned, self_consumed) == "none":
        raise InvalidInput("储能不核发绿证，无需建档", "storage discharge gets no certificates")
    request = {"name": name, "filing_code": code, "technology": technology,
               "commissioned": commissioned.isoformat(), "region": region,
               "account_id": account_id, "self_consumed": self_consumed}

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.scalar(select(PowerProject.id).where(PowerProject.filing_code == code)):
            raise Conflict(f"建档立卡编码 {code} 已登记", f"filing code {code} is registered")
        holder_id = registry.account_holder_id(ctx.session, account_id)
        registered = registry.add_project_in(ctx, name=name, product=PRODUCT, region=region,
                                             methodology=METHODOLOGY,
                                             owner_holder_id=holder_id)
        project = PowerProject(filing_code=code, project_id=registered["id"],
                               account_id=account_id, technology=technology,
                               commissioned=commissioned, self_consumed=self_consumed,
                               carried_kwh=0)
        ctx.session.add(project)
        ctx.session.flush()
        return project_view(project, name)

    return run_write(session, kind="gec.project.add", actor=actor, request=request,
                     action=action, idempotency_key=idempotency_key)


def _project_states(session: Session) -> dict[str, ProjectState]:
    rows = session.execute(select(PowerProject.filing_code, PowerProject.id,
                                  PowerProject.last_month, PowerProject.technology))
    return {code: ProjectState(pid, last, technology != "storage")
            for code, pid, last, technology in rows}


def _lock_batches(session: Session) -> None:
    """Take the product's row lock, the one lock every GEC batch takes (PostgreSQL; on
    SQLite a write holds the whole database). Taken before the projects' months and
    carries are read, it serialises batches, so the state read is the state written:
    no lock per project is needed (the batches are the only writers of a project's
    carry and last month)."""
    if is_postgresql(session):
        session.execute(text("SELECT 1 FROM products WHERE code = :code FOR UPDATE"),
                        {"code": PRODUCT})


def import_generation(session: Session, who: Actor, *, filename: str, content: bytes,
                      progress: Callable[[int, int], None] | None = None,
                      idempotency_key: str | None = None) -> dict[str, Any]:
    """A generation file, all or nothing: each project's months issued in order in one
    ledger write, 1 certificate per 1,000 kWh with the remainder carried to the next
    month. A refused file names every bad row and writes nothing."""
    actor = actor_for(who, WRITERS)
    table = generation.read_table(filename, content)
    request = {"filename": filename, "sha256": hashlib.sha256(content).hexdigest()}

    def action(ctx: WriteContext) -> dict[str, Any]:
        # Checked inside the write (a repeat with the same key is answered before it):
        # the months already issued are read under the batch lock.
        _lock_batches(ctx.session)
        rows, problems = generation.check_rows(table, _project_states(ctx.session), progress)
        if problems:
            raise GenerationImportRefused(problems)
        if not rows:
            raise GenerationImportRefused([("file", "没有数据行 no data rows")])
        return issue_months_in(ctx, [(r.filing_code, r.month, r.kwh) for r in rows])

    return run_write(session, kind="gec.issue", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


PROJECTS: Table = PowerProject.__table__  # type: ignore[assignment]
GENERATION: Table = GenerationMonth.__table__  # type: ignore[assignment]
SHOWN_MONTHS = 1000  # a result lists each month up to this many rows; larger: the root
LOCK_CHUNK = 10_000


def issue_months_in(ctx: WriteContext, rows: list[tuple[str, date, int]]) -> dict[str, Any]:
    """Issue checked (filing code, month, kWh) rows inside a caller's ledger write, as one
    batch. On PostgreSQL (server path) set-based in SQL (`_issue_months_sql`); otherwise
    row by row in Python (`_issue_months_rows`). Both give the same certificates, carries,
    serial ranges, moves and Merkle root (tests/green/test_batch.py)."""
    if on_postgres(ctx.session):
        return _issue_months_sql(ctx, rows)
    return _issue_months_rows(ctx, rows)


def _issue_months_rows(ctx: WriteContext, rows: list[tuple[str, date, int]]
                       ) -> dict[str, Any]:
    """Issue checked (filing code, month, kWh) rows inside a caller's ledger write, as one
    batch: the projects locked and read once, certificates and carries computed month by
    month, every issuance written set-based (registry.issue_batch_in), the month rows and
    the projects' carries written in one statement each. The entry records every move
    and, in its result, the Merkle root of the project lines (code|month|kWh|carried in|
    certificates|carried out|first serial|last serial, in issuance order)."""
    table = PROJECTS
    codes = sorted({code for code, _, _ in rows})
    found: list[Any] = []
    for first in range(0, len(codes), LOCK_CHUNK):  # a statement holds 65,535 parameters
        found += ctx.session.execute(
            select(table.c.id, table.c.filing_code, table.c.project_id, table.c.account_id,
                   table.c.technology, table.c.commissioned, table.c.self_consumed,
                   table.c.carried_kwh, table.c.last_month)
            .where(table.c.filing_code.in_(codes[first:first + LOCK_CHUNK]))
            .order_by(table.c.id).with_for_update()).all()
    state = {row.filing_code: {"row": row, "carried": row.carried_kwh, "last": row.last_month}
             for row in found}
    lines: list[registry.BatchLine] = []
    months: list[dict[str, Any]] = []
    for code, month, kwh in sorted(rows, key=lambda r: (r[1], r[0])):
        project = state[code]
        last = project["last"]
        if last is not None and month != generation.next_month(last):
            raise Conflict(f"{code} {month:%Y-%m} 不接续已核发月份",
                           f"{code} {month:%Y-%m} does not follow the months issued")
        row = project["row"]
        count, carried = method.certificates_for(kwh, project["carried"])
        tradable = method.tradability(row.technology, row.commissioned,
                                      row.self_consumed) == "tradable"
        months.append({"power_project_id": row.id, "filing_code": code, "month": month,
                       "kwh": kwh, "carried_in": project["carried"], "certificates": count,
                       "carried_out": carried, "tradable": tradable, "line": None})
        if count:
            months[-1]["line"] = len(lines)
            lines.append(registry.BatchLine(row.project_id, month.year, count, row.account_id,
                                            tradable, method.last_valid_day(month)))
        project["carried"], project["last"] = carried, month
    issued = registry.issue_batch_in(ctx, product=PRODUCT, lines=lines)
    for item in months:
        done = issued[item["line"]] if item["line"] is not None else None
        item["issuance_id"], item["serials"] = (done[0], done[1:]) if done else (None, None)
    _write_months(ctx.session, months, state)
    return _batch_result(len(rows), len(state), months)


def _batch_result(rows: int, projects: int, months: list[dict[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "rows": rows, "projects": projects,
        "certificates": sum(m["certificates"] for m in months),
        "merkle_root": merkle_root([_line(m) for m in months])}
    if len(months) <= SHOWN_MONTHS:
        result["months"] = [{"filing_code": m["filing_code"], "month": f"{m['month']:%Y-%m}",
                             "certificates": m["certificates"], "carried_kwh": m["carried_out"],
                             "tradable": m["tradable"]} for m in months]
    return result


# --- the batch in SQL (PostgreSQL) ----------------------------------------------------
# The rows come checked (generation.check_rows, under the batch lock). They are staged
# with COPY into a temporary table; certificates, carries and serial ranges are computed
# there with window functions, and each table is written with one INSERT ... SELECT:
# - a project's running sum of kWh (its carry in added) gives each month's certificates
#   (floor of the sum up to the month minus floor of the sum before it, per 1,000 kWh,
#   the same as carrying the remainder month by month) and its carry out (the sum mod
#   1,000);
# - the running sum of certificates over the whole batch in (month, filing code) order,
#   from the product's counter read once under its row lock, gives each issuance its
#   serial range: one fresh contiguous range, cut in order, nothing shared;
# - the methods' rules (tradability by technology and commissioning date, the last valid
#   day of a production month) are computed in Python for the few distinct combinations
#   in the batch and joined in, so the rules stay in methods/green.py.

_STAGE = ("CREATE TEMP TABLE gec_stage (filing_code text NOT NULL, month date NOT NULL, "
          "kwh bigint NOT NULL) ON COMMIT DROP")
_KINDS = ("SELECT DISTINCT p.technology, p.commissioned, p.self_consumed FROM gec_stage s "
          "JOIN green_power_projects p ON p.filing_code = s.filing_code")
_RULES = ("CREATE TEMP TABLE gec_rules ON COMMIT DROP AS SELECT * FROM unnest("
          "CAST(:technology AS text[]), CAST(:commissioned AS date[]), "
          "CAST(:self_consumed AS boolean[]), CAST(:tradable AS boolean[])) "
          "AS r(technology, commissioned, self_consumed, tradable)")
_VALIDITY = ("CREATE TEMP TABLE gec_validity ON COMMIT DROP AS SELECT * FROM unnest("
             "CAST(:months AS date[]), CAST(:valid_to AS date[])) AS v(month, valid_to)")
_BATCH = """
CREATE TEMP TABLE gec_batch ON COMMIT DROP AS
WITH summed AS (
  SELECT p.id AS pid, s.filing_code, p.project_id, p.account_id, s.month, s.kwh,
         r.tradable, v.valid_to,
         lag(s.month) OVER project AS previous, p.last_month,
         (p.carried_kwh + sum(s.kwh) OVER project)::bigint AS upto
  FROM gec_stage s
  JOIN green_power_projects p ON p.filing_code = s.filing_code
  JOIN gec_rules r ON (r.technology, r.commissioned, r.self_consumed)
                    = (p.technology, p.commissioned, p.self_consumed)
  JOIN gec_validity v ON v.month = s.month
  WINDOW project AS (PARTITION BY p.id ORDER BY s.month)),
counted AS (
  SELECT summed.*, upto / :per - (upto - kwh) / :per AS certificates,
         (upto - kwh) % :per AS carried_in, upto % :per AS carried_out,
         coalesce(previous, last_month) AS before
  FROM summed)
SELECT counted.*,
       (:first + sum(certificates) OVER (ORDER BY month, filing_code) - 1)::bigint
         AS serial_end
FROM counted
"""
_NOT_FOLLOWING = ("SELECT filing_code, month FROM gec_batch WHERE before IS NOT NULL "
                  "AND month <> (before + interval '1 month')::date "
                  "ORDER BY month, filing_code LIMIT 1")
# Issuances and their blocks in one statement: the issuances take their ids from their
# own sequence in serial order, and the ids come back (with the last serial, unique
# among the batch's issued lines) for the blocks, the month rows and the moves.
_ISSUE = """
WITH issued AS (
  INSERT INTO issuances (project_id, product, vintage, quantity, serial_start, serial_end,
                         tradable, valid_to, created_at)
  SELECT b.project_id, :product, extract(year FROM b.month)::integer, b.certificates,
         b.serial_end - b.certificates + 1, b.serial_end, b.tradable AND :product_tradable,
         b.valid_to, :now
  FROM gec_batch b WHERE b.certificates > 0 ORDER BY b.serial_end
  RETURNING id, serial_end),
blocks AS (
  INSERT INTO unit_blocks (issuance_id, account_id, serial_start, serial_end, state)
  SELECT i.id, b.account_id, b.serial_end - b.certificates + 1, b.serial_end, 'held'
  FROM issued i JOIN gec_batch b ON b.serial_end = i.serial_end AND b.certificates > 0)
INSERT INTO gec_ids (serial_end, id) SELECT serial_end, id FROM issued
"""
_MONTHS = """
INSERT INTO green_generation (power_project_id, month, kwh, carried_in, certificates,
                              carried_out, issuance_id, created_at)
SELECT b.pid, b.month, b.kwh, b.carried_in, b.certificates, b.carried_out, i.id, :now
FROM gec_batch b LEFT JOIN gec_ids i ON i.serial_end = b.serial_end AND b.certificates > 0
ORDER BY b.month, b.filing_code
"""
_CARRIES = """
UPDATE green_power_projects p SET carried_kwh = last.carried_out, last_month = last.month
FROM (SELECT DISTINCT ON (pid) pid, carried_out, month FROM gec_batch
      ORDER BY pid, month DESC) last
WHERE p.id = last.pid
"""
_LINES = """
SELECT b.filing_code, b.month, b.kwh, b.carried_in, b.certificates, b.carried_out,
       b.tradable, i.id, b.serial_end - b.certificates + 1, b.serial_end, b.account_id
FROM gec_batch b LEFT JOIN gec_ids i ON i.serial_end = b.serial_end AND b.certificates > 0
ORDER BY b.month, b.filing_code
"""


def _issue_months_sql(ctx: WriteContext, rows: list[tuple[str, date, int]]
                      ) -> dict[str, Any]:
    conn = ctx.session.connection()
    product = conn.execute(text(
        "SELECT next_serial, tradable, scope, methods FROM products WHERE code = :code "
        "FOR UPDATE"), {"code": PRODUCT}).one()
    if product.scope != "nation" or json.loads(product.methods or "[]"):
        raise InvalidInput(f"{PRODUCT} 的规则不能批量签发", f"{PRODUCT} cannot be issued in a "
                           "batch (its scope or methods need a per-project check)")
    conn.execute(text("SET LOCAL work_mem = '64MB'"))  # the batch's sorts stay in memory
    conn.execute(text(_STAGE))
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(
            "COPY gec_stage (filing_code, month, kwh) FROM STDIN") as copy:
        copy.write("".join(f"{code}\t{month.isoformat()}\t{kwh}\n"
                           for code, month, kwh in rows))
    _stage_rules(conn, {month for _, month, _ in rows})
    conn.execute(text(_BATCH), {"per": method.KWH_PER_CERTIFICATE,
                                "first": product.next_serial})
    wrong = conn.execute(text(_NOT_FOLLOWING)).first()
    if wrong is not None:
        raise Conflict(f"{wrong.filing_code} {wrong.month:%Y-%m} 不接续已核发月份",
                       f"{wrong.filing_code} {wrong.month:%Y-%m} does not follow the months "
                       "issued")
    counts = conn.execute(text(
        "SELECT coalesce(sum(certificates), 0), count(DISTINCT pid) FROM gec_batch")).one()
    now = utcnow()
    conn.execute(text("CREATE TEMP TABLE gec_ids (serial_end bigint PRIMARY KEY, id integer) "
                      "ON COMMIT DROP"))
    conn.execute(text(_ISSUE), {"product": PRODUCT, "now": now,
                                "product_tradable": product.tradable})
    conn.execute(text(_MONTHS), {"now": now})
    conn.execute(text(_CARRIES))
    conn.execute(text("UPDATE products SET next_serial = :next WHERE code = :code"),
                 {"next": product.next_serial + int(counts[0]), "code": PRODUCT})
    months = []
    with raw.cursor() as cursor:  # 100,000 rows: the driver's tuples, not ORM rows
        lines = cursor.execute(_LINES).fetchall()
    for (code, month, kwh, carried_in, count, carried_out, tradable, issuance_id, first,
         last, account_id) in lines:
        months.append({"filing_code": code, "month": month, "kwh": kwh,
                       "carried_in": carried_in, "certificates": count,
                       "carried_out": carried_out, "tradable": tradable,
                       "serials": (first, last) if issuance_id is not None else None})
        if issuance_id is not None:
            ctx.moves.append([issuance_id, first, last, None, account_id, "held"])
    ctx.session.expire_all()
    return _batch_result(len(rows), counts[1], months)


def _stage_rules(conn: Any, months: set[date]) -> None:
    """The methods' rules for the batch's distinct (technology, commissioning date,
    self-consumption) and production months, as two small joined tables."""
    kinds = conn.execute(text(_KINDS)).all()
    conn.execute(text(_RULES), {
        "technology": [k.technology for k in kinds],
        "commissioned": [k.commissioned for k in kinds],
        "self_consumed": [k.self_consumed for k in kinds],
        "tradable": [method.tradability(k.technology, k.commissioned, k.self_consumed)
                     == "tradable" for k in kinds]})
    ordered = sorted(months)
    conn.execute(text(_VALIDITY), {"months": ordered,
                                   "valid_to": [method.last_valid_day(m) for m in ordered]})


def _line(month: dict[str, Any]) -> str:
    first, last = month["serials"] or ("", "")
    return (f"{month['filing_code']}|{month['month'].isoformat()[:7]}|{month['kwh']}|"
            f"{month['carried_in']}|{month['certificates']}|{month['carried_out']}|"
            f"{first}|{last}")


def merkle_root(lines: list[str]) -> str:
    """SHA-256 Merkle root of the lines (a lone last node is paired with itself)."""
    level = [hashlib.sha256(line.encode("utf-8")).digest() for line in lines] or [
        hashlib.sha256(b"").digest()]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hashlib.sha256(level[i] + level[i + 1]).digest()
                 for i in range(0, len(level), 2)]
    return level[0].hex()


def _write_months(session: Session, months: list[dict[str, Any]],
                  state: dict[str, dict[str, Any]]) -> None:
    conn = session.connection()
    now = utcnow()
    columns = ("power_project_id", "month", "kwh", "carried_in", "certificates",
               "carried_out", "issuance_id")
    if is_postgresql(session):  # streamed with COPY, no statement per row
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cursor, cursor.copy(
                f"COPY green_generation ({', '.join(columns)}, created_at) FROM STDIN") as copy:
            for m in months:
                copy.write_row((*(m[c] for c in columns), now))
    else:
        conn.execute(insert(GENERATION), [{**{c: m[c] for c in columns}, "created_at": now}
                                          for m in months])
    table = PROJECTS
    finals = [{"pid": p["row"].id, "carried": p["carried"], "last": p["last"]}
              for p in state.values()]
    if is_postgresql(session):  # one statement however many projects
        conn.execute(text(
            "UPDATE green_power_projects p SET carried_kwh = u.carried, last_month = u.last "
            "FROM unnest(CAST(:ids AS integer[]), CAST(:carried AS bigint[]), "
            "CAST(:last AS date[])) AS u(id, carried, last) WHERE p.id = u.id"),
            {"ids": [f["pid"] for f in finals], "carried": [f["carried"] for f in finals],
             "last": [f["last"] for f in finals]})
    else:
        conn.execute(update(table).where(table.c.id == bindparam("pid"))
                     .values(carried_kwh=bindparam("carried"), last_month=bindparam("last")),
                     finals)
    session.expire_all()


def expire(session: Session, who: Actor, *, today: date,
           idempotency_key: str | None = None) -> dict[str, Any]:
    """The expiry job: cancel every certificate whose validity ended before `today`
    (the day is the caller's: the scheduler passes the date, tests a fixed one)."""
    actor = actor_for(who, WRITERS)
    request = {"today": today.isoformat()}

    def action(ctx: WriteContext) -> dict[str, Any]:
        return registry.expire_in(ctx, product=PRODUCT, day=today)

    return run_write(session, kind="gec.expire", actor=actor, request=request, action=action,
                     idempotency_key=idempotency_key)


def _percent(share: Decimal) -> str:
    return f"{(share * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def claim(session: Session, key: RegistryKey, who: Actor, *, account_id: int, consumer: str,
          period_start: date, period_end: date, consumption_kwh: int,
          certificates: int | None = None, factor: str | None = None,
          region: str | None = None, factor_year: int | None = None,
          reported_co2_t: str | None = None, reported_source: str | None = None,
          idempotency_key: str | None = None) -> dict[str, Any]:
    """A green-power claim: the consumer's declared consumption for a period, and the
    certificates retired (核销) for it from the account, with the claim certificate
    (signed, verifiable) stating the green share and the CO2 at a named factor. The
    factor defaults to the grid average of the latest year published up to the period's.
    A figure reported elsewhere is kept beside, labelled "reported", never the method's.
    Certificates default to enough for the whole consumption."""
    consumer = require_text("消费者 consumer", consumer)
    if period_end < period_start:
        raise InvalidInput("期间结束早于开始", "the period ends before it starts")
    if consumption_kwh <= 0:
        raise InvalidInput("用电量须大于零", "consumption must be more than zero kWh")
    per = method.KWH_PER_CERTIFICATE
    count = certificates if certificates is not None else -(-consumption_kwh // per)
    if count <= 0:
        raise InvalidInput("绿证数量须为正整数", "certificates must be a positive number")
    if (count - 1) * per >= consumption_kwh:
        raise InvalidInput(f"{count} 张绿证超过用电量 {consumption_kwh} kWh",
                           f"{count} certificates exceed the consumption of "
                           f"{consumption_kwh} kWh")
    year = factor_year or method.latest_year(factor, region, period_end.year)
    green_kwh = min(count * per, consumption_kwh)
    co2 = method.co2_of(green_kwh, year, factor, region)
    share = method.green_share(count, consumption_kwh).min(Decimal(1))
    reported = _reported(reported_co2_t, reported_source)
    facts = {"consumer": consumer, "period": f"{period_start} – {period_end}",
             "consumption_kwh": consumption_kwh, "certificates": count,
             "green_share": _percent(share), "co2_t": co2.co2_t_text,
             "factor_kg_per_kwh": str(co2.factor_kg_per_kwh), "factor_name": co2.factor_name,
             "factor_source": co2.factor_source, **reported}
    purpose = (f"绿色电力消费核销 green-power claim {period_start}–{period_end}: 用电 "
               f"{consumption_kwh} kWh, 绿证 {count} 张 certificates, 绿电占比 green share "
               f"{_percent(share)}, CO2 {co2.co2_t_text} t ({co2.factor_name}, "
               f"{co2.factor_kg_per_kwh} kgCO2/kWh)"
               + (f"; 另报道 reported elsewhere {reported['reported_co2_t']} t "
                  f"({reported['reported_source']}), not this method's" if reported else ""))
    request = {"account_id": account_id, "consumer": consumer,
               "period_start": period_start.isoformat(), "period_end": period_end.isoformat(),
               "consumption_kwh": consumption_kwh, "certificates": count,
               "factor": co2.factor, "region": co2.region, "factor_year": year, **reported}
    name = registry.actor_name(session, who, account_id)

    def action(ctx: WriteContext) -> dict[str, Any]:
        if ctx.session.scalar(select(GreenClaim.id).where(
                GreenClaim.consumer == consumer, GreenClaim.period_start == period_start,
                GreenClaim.period_end == period_end)):
            raise Conflict(f"{consumer} 已就 {period_start}–{period_end} 声明过绿电消费",
                           f"{consumer} has claimed {period_start}–{period_end} already")
        retired = registry.retire_in(ctx, from_account=account_id, product=PRODUCT,
                                     quantity=count, beneficiary=consumer, purpose=purpose)
        signed = documents.issue_in(ctx, key, kind="retirement", retirement_id=retired["id"],
                                    extra=facts)
        record = GreenClaim(account_id=account_id, consumer=consumer,
                            period_start=period_start, period_end=period_end,
                            consumption_kwh=consumption_kwh, certificates=count,
                            green_share=str(share), co2_t=co2.co2_t_text,
                            factor_kg_per_kwh=str(co2.factor_kg_per_kwh),
                            factor_name=co2.factor_name, factor_source=co2.factor_source,
                            reported_co2_t=reported.get("reported_co2_t"),
                            reported_source=reported.get("reported_source"),
                            retirement_id=retired["id"], certificate_number=signed["number"])
        ctx.session.add(record)
        ctx.session.flush()
        return {**claim_view(record), "serials": retired["serials"]}

    return run_write(session, kind="gec.claim", actor=name, request=request, action=action,
                     idempotency_key=idempotency_key)


def _reported(tonnes: str | None, source: str | None) -> dict[str, str]:
    if tonnes is None:
        return {}
    try:
        value = Decimal(tonnes.strip())
    except ArithmeticError:
        raise InvalidInput(f"报道数值 {tonnes!r} 无效", f"reported figure {tonnes!r} is not a "
                           "number") from None
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"报道数值 {tonnes!r} 无效", f"reported figure {tonnes!r} is invalid")
    return {"reported_co2_t": str(value),
            "reported_source": require_text("报道来源 reported source", source, 500)}


def claim_view(record: GreenClaim) -> dict[str, Any]:
    return {"id": record.id, "consumer": record.consumer,
            "period_start": record.period_start.isoformat(),
            "period_end": record.period_end.isoformat(),
            "consumption_kwh": record.consumption_kwh, "certificates": record.certificates,
            "green_share": _percent(Decimal(record.green_share)), "co2_t": record.co2_t,
            "factor_kg_per_kwh": record.factor_kg_per_kwh, "factor_name": record.factor_name,
            "factor_source": record.factor_source, "reported_co2_t": record.reported_co2_t,
            "reported_source": record.reported_source, "retirement_id": record.retirement_id,
            "certificate_number": record.certificate_number}


def public_claims(session: Session) -> list[dict[str, Any]]:
    """The public register of green-power claims, newest first."""
    return [claim_view(r) for r in session.scalars(
        select(GreenClaim).order_by(GreenClaim.id.desc()))]


def get_claim(session: Session, claim_id: int) -> dict[str, Any]:
    record = session.get(GreenClaim, claim_id)
    if record is None:
        raise NotFound(f"绿电声明 {claim_id} 不存在", f"claim {claim_id} does not exist")
    return claim_view(record)


def claim_pdf(session: Session, claim_id: int, served_url: str | None = None) -> bytes:
    """The claim's certificate as a signed PDF (documents' renderer)."""
    return documents.certificate_pdf(session, get_claim(session, claim_id)["certificate_number"],
                                     served_url)


PROJECTS_PAGE_SIZE = 100  # GET /api/v1/gec/projects and `qinglu gec projects`


def list_projects(session: Session) -> list[dict[str, Any]]:
    """Every power project: a read of the whole list (the API and the CLI read a page at
    a time, `projects_page`)."""
    names = registry.project_names(session)
    return [project_view(p, names.get(p.project_id)) for p in session.scalars(
        select(PowerProject).order_by(PowerProject.id))]


def projects_page(session: Session, after: str | None = None,
                  limit: str | None = None) -> dict[str, Any]:
    """A page of power projects in id order (core.paging: `after` the last id seen,
    `limit` how many, PROJECTS_PAGE_SIZE when absent; anything else refused):
    {"projects": [...], "next": the next page's `after` (None on the last page),
    "limit": the page's size}."""
    page = read_paging(after, limit, PROJECTS_PAGE_SIZE)
    found = list(session.scalars(select(PowerProject).where(PowerProject.id > page.after)
                                 .order_by(PowerProject.id).limit(page.limit + 1)))
    following = page.next_after([p.id for p in found])
    shown = found[:page.limit]
    names = registry.project_names(session, [p.project_id for p in shown])
    return {"projects": [project_view(p, names.get(p.project_id)) for p in shown],
            "next": following, "limit": page.limit}


def project_generation(session: Session, filing_code_text: str) -> list[dict[str, Any]]:
    code = filing_code(filing_code_text)
    project = session.scalar(select(PowerProject).where(PowerProject.filing_code == code))
    if project is None:
        raise UnknownPowerProject(f"未登记的项目 {code}", f"unknown power project {code}")
    return [{"month": g.month.strftime("%Y-%m"), "kwh": g.kwh, "carried_in": g.carried_in,
             "certificates": g.certificates, "carried_out": g.carried_out,
             "issuance_id": g.issuance_id}
            for g in session.scalars(select(GenerationMonth).where(
                GenerationMonth.power_project_id == project.id).order_by(GenerationMonth.month))]


def by_month(session: Session) -> list[dict[str, Any]]:
    """Certificates issued (by production month), traded on the market (by the month
    the trade settled) and claimed (by the claim's end month), month by month, with bar
    lengths (0-200) for the register's and the dashboard's charts."""
    issued: dict[str, int] = {}
    for month, count in session.execute(select(GenerationMonth.month,
                                               GenerationMonth.certificates)):
        issued[f"{month:%Y-%m}"] = issued.get(f"{month:%Y-%m}", 0) + count
    traded: dict[str, int] = {}
    for day in market.daily_prices(session, product=PRODUCT):
        count = parse_quantity(PRODUCT, day["volume"])
        traded[day["day"][:7]] = traded.get(day["day"][:7], 0) + count
    claimed: dict[str, int] = {}
    for end, count in session.execute(select(GreenClaim.period_end, GreenClaim.certificates)):
        claimed[f"{end:%Y-%m}"] = claimed.get(f"{end:%Y-%m}", 0) + count
    series = {"issued": issued, "traded": traded, "claimed": claimed}
    top = max([1, *(v for counts in series.values() for v in counts.values())])
    rows = []
    for key in sorted({m for counts in series.values() for m in counts}):
        row: dict[str, Any] = {"month": key}
        for name, counts in series.items():
            row[name] = counts.get(key, 0)
            row[f"{name}_width"] = round(200 * row[name] / top)
        rows.append(row)
    return rows
