"""Exports other registries read, and the import of the same.

`cadt_export` gives the public registry in the Climate Action Data Trust data model
(`exports.cadt`): projects, their locations, issuances, units and retirements, for the
products counted in tCO2e (CADT's only unit metric; green certificates in MWh are left
out and counted in `omitted`). `csv_export` gives the same units as one CSV table.
`cadt_import` writes such a document into an empty registry through the registry's own
actions (each step a ledger entry), so that exporting it again gives the same file.

How Qinglu's records become CADT's:

- a unit record is a run of one issuance's serials that the public sees alike: held
  (`Held`, whoever holds them: accounts are not public), in a buffer account (`Buffer`),
  retired by one retirement (`Retired`, its purpose as the reason), cancelled by one
  cancellation (`Cancelled`, its reason); `unitCount` counts serials and `unitTags`
  states what one serial is (`serial=0.01 tCO2e` for FCS);
- identifiers are Qinglu's own public ones, so they survive a move between registries:
  project `P000001`, an issuance's and a unit's serial range, a retirement's first unit;
- dates are the day (UTC) this registry wrote the record: a project's registration
  (`projectStatusDate`), an issuance (`verificationDate`, Qinglu records no separate
  verification date), a retirement; an issuance's period is its vintage year;
- what Qinglu does not record is said so (`verificationBody` "未记录 Not recorded",
  `coveredByNDC` and the corresponding adjustment `Unknown` / `Not Applicable`: units of a
  domestic registry, never transferred abroad), never guessed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from qinglu.core.errors import InvalidInput
from qinglu.core.files import json_content
from qinglu.core.identifiers import region_name
from qinglu.core.quantities import format_quantity
from qinglu.core.serials import format_serial, parse_serial
from qinglu.documents import actions as documents
from qinglu.documents.signing import RegistryKey
from qinglu.exports import cadt
from qinglu.registry import actions as registry

REGISTRY_NAME = "Qinglu 青绿"
NOT_RECORDED = "未记录 Not recorded"
# ISIC Rev. 4 sections, as CADT's sector list names them; a product not listed here is
# "Not elsewhere classified" rather than a guess.
SECTORS = {"FCS": "Agriculture, forestry and fishing"}
UNIT_TYPES = {"FCS": "Removal - nature"}
PROJECT_STATUSES = {"registered": "Registered"}
PRODUCT_TAG = "qinglu:product="


@dataclass
class Run:
    """Adjacent serials of one issuance that the public sees alike."""

    issuance: dict[str, Any]
    start: int
    end: int
    status: str
    reason_of: int | None  # the retirement or cancellation

    @property
    def count(self) -> int:
        return self.end - self.start + 1


def cadt_json(session: Session, served: str | None = None) -> str:
    """The CADT document as the file other registries read: UTF-8 JSON, two-space
    indents, fields in the model's order (the same registry gives the same bytes).
    Links use QINGLU_BASE_URL, else the address served (`documents.base_url`)."""
    document = cadt_export(session, documents.base_url(served))
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def units_csv(session: Session, served: str | None = None) -> str:
    return csv_export(session, documents.base_url(served))


def read_document(data: bytes, name: str = "file") -> Any:
    """A CADT file's JSON, or a refusal naming the file and saying why it is not JSON
    (not UTF-8, broken, empty, nested without end)."""
    return json_content(data, name)


def cadt_export(session: Session, base_url: str) -> dict[str, Any]:
    """The public registry as a CADT document (see the module's docstring)."""
    records = registry.public_records(session)
    units_of = {p["code"]: p for p in records["products"] if p["unit"] == "tCO2e"}
    projects = {p["id"]: p for p in records["projects"] if p["product"] in units_of}
    issuances = [i for i in records["issuances"] if i["project_id"] in projects]
    runs = list(_runs(records["blocks"], {i["id"]: i for i in issuances}))
    reasons = {c["id"]: c["reason"] for c in records["cancellations"]}
    retirements = {r["id"]: r for r in records["retirements"] if r["product"] in units_of}
    document: dict[str, Any] = {
        "model": cadt.MODEL, "modelVersion": cadt.MODEL_VERSION, "registry": REGISTRY_NAME,
        "projects": [_project(p, base_url) for p in projects.values()],
        "projectLocations": [_location(p) for p in projects.values()],
        "issuances": [_issuance(i, projects[i["project_id"]]) for i in issuances],
        "units": [_unit(r, projects[r.issuance["project_id"]], units_of, retirements,
                        reasons, base_url) for r in runs],
        "retirements": _retirements(runs, projects, retirements, units_of),
        "omitted": {"projects": len(records["projects"]) - len(projects),
                    "reason": "CADT counts units in tCO2e only"},
    }
    return document


def _runs(blocks: list[dict[str, Any]], issuances: dict[int, dict[str, Any]]) -> Iterator[Run]:
    current: Run | None = None
    for block in blocks:  # ordered by issuance and serial
        issuance = issuances.get(block["issuance_id"])
        if issuance is None:
            continue
        status, reason_of = _public_status(block)
        if (current is not None and current.issuance is issuance
                and current.status == status and current.reason_of == reason_of
                and current.end + 1 == block["serial_start"]):
            current.end = block["serial_end"]
            continue
        if current is not None:
            yield current
        current = Run(issuance, block["serial_start"], block["serial_end"], status, reason_of)
    if current is not None:
        yield current


def _public_status(block: dict[str, Any]) -> tuple[str, int | None]:
    if block["state"] == "retired":
        return "Retired", block["retirement_id"]
    if block["state"] == "cancelled":
        return "Cancelled", block["cancellation_id"]
    if block["account_kind"] == "buffer":
        return "Buffer", None
    return "Held", None  # held, or in escrow for a pending trade: still its holder's


def _project_code(project_id: int) -> str:
    return f"P{project_id:06d}"


def _day(moment: datetime) -> str:
    return moment.date().isoformat()


def _project(project: dict[str, Any], base_url: str) -> dict[str, Any]:
    code = _project_code(project["id"])
    return {
        "warehouseProjectId": code, "currentRegistry": REGISTRY_NAME, "projectId": code,
        "originProjectId": code, "registryOfOrigin": REGISTRY_NAME, "program": None,
        "projectName": project["name"], "projectLink": f"{base_url}/projects/{project['id']}",
        "projectDeveloper": project["developer"] or NOT_RECORDED,
        "sector": SECTORS.get(project["product"], "Not elsewhere classified"),
        "projectType": project["product"], "projectTags": PRODUCT_TAG + project["product"],
        "coveredByNDC": "Unknown", "ndcInformation": None,
        "projectStatus": PROJECT_STATUSES[project["status"]],
        "projectStatusDate": _day(project["created_at"]), "unitMetric": "tCO2e",
        "methodology": project["methodology"], "methodology2": None,
        "validationBody": None, "validationDate": None, "description": None,
    }


def _location(project: dict[str, Any]) -> dict[str, Any]:
    code = _project_code(project["id"])
    return {"id": f"{code}-L1", "warehouseProjectId": code, "country": cadt.COUNTRY,
            "inCountryRegion": region_name(project["region"]),
            "geographicIdentifier": project["region"]}


def _serial(issuance: dict[str, Any], project: dict[str, Any], start: int, end: int) -> str:
    return format_serial(issuance["product"], project["region"], project["id"],
                         issuance["vintage"], start, end)


def _issuance(issuance: dict[str, Any], project: dict[str, Any]) -> dict[str, Any]:
    vintage = issuance["vintage"]
    return {"id": _serial(issuance, project, issuance["serial_start"], issuance["serial_end"]),
            "warehouseProjectId": _project_code(project["id"]),
            "startDate": f"{vintage}-01-01", "endDate": f"{vintage}-12-31",
            "verificationApproach": project["methodology"],
            "verificationDate": _day(issuance["created_at"]),
            "verificationBody": NOT_RECORDED}


def _unit(run: Run, project: dict[str, Any], units_of: dict[str, dict[str, Any]],
          retirements: dict[int, dict[str, Any]], reasons: dict[int, str],
          base_url: str) -> dict[str, Any]:
    issuance = run.issuance
    serial = _serial(issuance, project, run.start, run.end)
    reason = None
    if run.status == "Retired" and run.reason_of in retirements:
        reason = retirements[run.reason_of]["purpose"]
    elif run.status == "Cancelled" and run.reason_of in reasons:
        reason = reasons[run.reason_of]
    one = format_quantity(issuance["product"], 1)
    return {
        "warehouseUnitId": serial,
        "issuanceId": _serial(issuance, project, issuance["serial_start"], issuance["serial_end"]),
        "projectLocationId": f"{_project_code(project['id'])}-L1", "unitOwner": None,
        "countryJurisdictionOfOwner": cadt.COUNTRY, "inCountryJurisdictionOfOwner": None,
        "unitBlockStart": _serial(issuance, project, run.start, run.start),
        "unitBlockEnd": _serial(issuance, project, run.end, run.end),
        "unitCount": run.count, "vintageYear": issuance["vintage"],
        "unitType": UNIT_TYPES.get(issuance["product"], "Not Determined"),
        "marketplace": None, "marketplaceLink": None, "marketplaceIdentifier": None,
        "unitTags": f"serial={one} {units_of[issuance['product']]['unit']}",
        "unitStatus": run.status, "unitStatusReason": reason,
        "unitRegistryLink": f"{base_url}/search?serial={serial}",
        "correspondingAdjustmentDeclaration": "Unknown",
        "correspondingAdjustmentStatus": "Not Applicable",
    }


def _retirements(runs: list[Run], projects: dict[int, dict[str, Any]],
                 retirements: dict[int, dict[str, Any]],
                 units_of: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    taken: dict[int, list[Run]] = {}
    for run in runs:
        if run.status == "Retired" and run.reason_of in retirements:
            taken.setdefault(run.reason_of, []).append(run)
    rows = []
    for retirement_id, retirement in retirements.items():
        mine = taken.get(retirement_id, [])
        if not mine:
            continue
        ids = [_serial(r.issuance, projects[r.issuance["project_id"]], r.start, r.end)
               for r in mine]
        count = sum(r.count for r in mine)
        rows.append({
            "retirementId": f"R-{ids[0]}", "warehouseUnitIds": ids, "unitCount": count,
            "quantity": format_quantity(retirement["product"], count),
            "unitMetric": units_of[retirement["product"]]["unit"],
            "beneficiary": retirement["beneficiary"],
            "retirementReason": retirement["purpose"],
            "retirementDate": _day(retirement["created_at"])})
    return rows


CSV_COLUMNS = ("warehouseUnitId", "projectId", "projectName", "geographicIdentifier",
               "inCountryRegion", "methodology", "issuanceId", "vintageYear",
               "unitBlockStart", "unitBlockEnd", "unitCount", "quantity", "unitMetric",
               "unitStatus", "unitStatusReason", "retirementId", "beneficiary",
               "unitRegistryLink")


def csv_export(session: Session, base_url: str) -> str:
    """The CADT units as one table, each with its project, region and retirement."""
    document = cadt_export(session, base_url)
    projects = {p["warehouseProjectId"]: p for p in document["projects"]}
    locations = {loc["warehouseProjectId"]: loc for loc in document["projectLocations"]}
    retired_by = {unit: r for r in document["retirements"] for unit in r["warehouseUnitIds"]}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for unit in document["units"]:
        code = "P" + unit["warehouseUnitId"].split("-P", 1)[1][:6]
        project, location = projects[code], locations[code]
        retirement = retired_by.get(unit["warehouseUnitId"], {})
        product = project["projectTags"].removeprefix(PRODUCT_TAG)
        writer.writerow({
            **{k: unit[k] for k in ("warehouseUnitId", "issuanceId", "vintageYear",
                                    "unitBlockStart", "unitBlockEnd", "unitCount",
                                    "unitStatus", "unitStatusReason", "unitRegistryLink")},
            "projectId": code, "projectName": project["projectName"],
            "geographicIdentifier": location["geographicIdentifier"],
            "inCountryRegion": location["inCountryRegion"],
            "methodology": project["methodology"],
            "quantity": format_quantity(product, unit["unitCount"]),
            "unitMetric": project["unitMetric"],
            "retirementId": retirement.get("retirementId", ""),
            "beneficiary": retirement.get("beneficiary", "")})
    return out.getvalue()


def cadt_import(session: Session, key: RegistryKey, document: Any, *, holder_id: int,
                actor: str) -> dict[str, Any]:
    """Write a CADT document into this registry, which must hold no project yet, so that
    its projects and serials keep their numbers. The units are issued into an account of
    `holder_id` (the importing registry decides who holds them), then each run is moved
    to an account of its own kind in serial order (a transfer takes the lowest serials
    first, so each takes exactly its run), retired runs are retired for their
    beneficiary and purpose, cancelled runs cancelled for their reason.

    Refused whole, before anything is written, when the document breaks the model, the
    registry is not empty, or its projects are not numbered P000001 onwards. Each write
    is its own ledger entry: a refusal midway (a serial range the registry numbers
    otherwise) leaves what was written, and says where it stopped."""
    _check_importable(session, document)
    plan = _Plan(session, actor, holder_id)
    for project in document["projects"]:
        plan.add_project(project, document["projectLocations"])
    units_by_issuance: dict[str, list[dict[str, Any]]] = {}
    for unit in document["units"]:
        units_by_issuance.setdefault(unit["issuanceId"], []).append(unit)
    reasons = {u: r for r in document["retirements"] for u in r["warehouseUnitIds"]}
    for issuance in document["issuances"]:
        plan.issue(issuance, units_by_issuance.get(issuance["id"], []), reasons)
    for retirement in document["retirements"]:
        plan.retire(key, retirement)
    return plan.summary()


def _check_importable(session: Session, document: Any) -> None:
    problems = cadt.validate(document)
    if problems:
        raise InvalidInput("文件不符合 CADT 数据模型：" + "; ".join(problems[:10]),
                           "the file breaks the CADT data model: " + "; ".join(problems[:10]))
    if registry.public_records(session)["projects"]:
        raise InvalidInput("只能导入空登记簿", "import into an empty registry only")
    codes = [p["projectId"] for p in document["projects"]]
    if codes != [_project_code(n) for n in range(1, len(codes) + 1)]:
        raise InvalidInput("项目编号须从 P000001 起连续（序列号中含项目编号）",
                           "projects must be numbered P000001 onwards without gaps "
                           "(serials carry the project's number)")


class _Plan:
    """The import's writes, in order, and what they made."""

    def __init__(self, session: Session, actor: str, holder_id: int) -> None:
        self.session, self.actor, self.holder_id = session, actor, holder_id
        self.projects: dict[str, dict[str, Any]] = {}
        self.source = self._account("holding")
        self.kept: dict[str, int] = {}
        self.retiring: dict[str, int] = {}
        self.counts = {"projects": 0, "issuances": 0, "units": 0, "retirements": 0,
                       "cancellations": 0}

    def _account(self, kind: str) -> int:
        return int(registry.open_account(self.session, holder_id=self.holder_id, kind=kind,
                                         actor=self.actor)["id"])

    def add_project(self, project: dict[str, Any], locations: list[dict[str, Any]]) -> None:
        code = project["warehouseProjectId"]
        location = next(loc for loc in locations if loc["warehouseProjectId"] == code)
        product = (project.get("projectTags") or "").removeprefix(PRODUCT_TAG)
        made = registry.add_project(
            self.session, name=project["projectName"], product=product,
            region=location["geographicIdentifier"], methodology=project["methodology"],
            actor=self.actor)
        if _project_code(made["id"]) != project["projectId"]:
            raise InvalidInput(f"项目 {project['projectId']} 在本登记簿编号为 "
                               f"{_project_code(made['id'])}，导入停止",
                               f"project {project['projectId']} got number "
                               f"{_project_code(made['id'])} here; import stopped")
        self.projects[code] = {**made, "product": product}
        self.counts["projects"] += 1

    def issue(self, issuance: dict[str, Any], units: list[dict[str, Any]],
              retired_by: dict[str, dict[str, Any]]) -> None:
        expected = parse_serial(issuance["id"])
        project = self.projects[issuance["warehouseProjectId"]]
        issued = registry.issue(self.session, project_id=project["id"],
                                vintage=expected.vintage, quantity=expected.quantity,
                                to_account=self.source, actor=self.actor)
        if issued["serials"][0] != issuance["id"]:
            raise InvalidInput(f"发行 {issuance['id']} 在本登记簿为 {issued['serials'][0]}，"
                               "导入停止", f"issuance {issuance['id']} got "
                               f"{issued['serials'][0]} here; import stopped")
        self.counts["issuances"] += 1
        for unit in sorted(units, key=lambda u: parse_serial(u["unitBlockStart"]).start):
            self._place(project, expected.vintage, unit, retired_by)

    def _place(self, project: dict[str, Any], vintage: int, unit: dict[str, Any],
               retired_by: dict[str, dict[str, Any]]) -> None:
        status = unit["unitStatus"]
        if status == "Retired":
            retirement = retired_by[unit["warehouseUnitId"]]["retirementId"]
            if retirement not in self.retiring:
                self.retiring[retirement] = self._account("holding")
            target = self.retiring[retirement]
        elif status == "Cancelled":
            target = self._account("holding")
        else:
            kind = "buffer" if status == "Buffer" else "holding"
            if kind not in self.kept:
                self.kept[kind] = self._account(kind)
            target = self.kept[kind]
        registry.transfer(self.session, from_account=self.source, to_account=target,
                          product=project["product"], quantity=int(unit["unitCount"]),
                          project_id=project["id"], vintage=vintage, actor=self.actor)
        if status == "Cancelled":
            registry.cancel(self.session, from_account=target, product=project["product"],
                            quantity=int(unit["unitCount"]),
                            reason=unit["unitStatusReason"], actor=self.actor)
            self.counts["cancellations"] += 1
        self.counts["units"] += 1

    def retire(self, key: RegistryKey, retirement: dict[str, Any]) -> None:
        product = parse_serial(retirement["warehouseUnitIds"][0]).product
        documents.retire(self.session, key, from_account=self.retiring[retirement["retirementId"]],
                         product=product, quantity=int(retirement["unitCount"]),
                         beneficiary=retirement["beneficiary"],
                         purpose=retirement["retirementReason"], actor=self.actor)
        self.counts["retirements"] += 1

    def summary(self) -> dict[str, Any]:
        return dict(self.counts)
