"""The Climate Action Data Trust (CADT) data model, version 1: the tables other
registries read (projects, project locations, issuances, units), their field names, which
are required, and the enumerations (CADT's governance pick lists) a value must come from.

Source: Chia-Network/cadt, `src/validations/{projects,locations,issuances,units}` and the
pick lists its governance API serves (`/v1/governance/meta/pickList`). Fields CADT fills
in itself (`orgUid`, timestamps) are left out; `warehouseProjectId`, `warehouseUnitId`,
`id` and the keys between tables (`warehouseProjectId`, `issuanceId`, `projectLocationId`)
are kept, as CADT's table exports carry them.

`retirements` is Qinglu's own table beside them (CADT v1 records a retirement only as a
unit's status and reason): who the units were retired for and why, once per retirement,
naming the units it took. Its fields follow CADT's naming.
"""

from __future__ import annotations

from typing import Any

MODEL = "CADT"
MODEL_VERSION = "v1"

# field -> required
PROJECT_FIELDS: dict[str, bool] = {
    "warehouseProjectId": True, "currentRegistry": False, "projectId": True,
    "originProjectId": True, "registryOfOrigin": True, "program": False,
    "projectName": True, "projectLink": True, "projectDeveloper": True, "sector": True,
    "projectType": True, "projectTags": False, "coveredByNDC": True, "ndcInformation": False,
    "projectStatus": True, "projectStatusDate": True, "unitMetric": True, "methodology": True,
    "methodology2": False, "validationBody": False, "validationDate": False,
    "description": False,
}
LOCATION_FIELDS: dict[str, bool] = {
    "id": True, "warehouseProjectId": True, "country": True, "inCountryRegion": True,
    "geographicIdentifier": True,
}
ISSUANCE_FIELDS: dict[str, bool] = {
    "id": True, "warehouseProjectId": True, "startDate": True, "endDate": True,
    "verificationApproach": True, "verificationDate": True, "verificationBody": True,
}
UNIT_FIELDS: dict[str, bool] = {
    "warehouseUnitId": True, "issuanceId": True, "projectLocationId": False,
    "unitOwner": False, "countryJurisdictionOfOwner": True,
    "inCountryJurisdictionOfOwner": False, "unitBlockStart": True, "unitBlockEnd": True,
    "unitCount": True, "vintageYear": True, "unitType": True, "marketplace": False,
    "marketplaceLink": False, "marketplaceIdentifier": False, "unitTags": False,
    "unitStatus": True, "unitStatusReason": False, "unitRegistryLink": True,
    "correspondingAdjustmentDeclaration": True, "correspondingAdjustmentStatus": True,
}
RETIREMENT_FIELDS: dict[str, bool] = {
    "retirementId": True, "warehouseUnitIds": True, "unitCount": True, "quantity": True,
    "unitMetric": True, "beneficiary": True, "retirementReason": True,
    "retirementDate": True,
}
TABLES: dict[str, dict[str, bool]] = {
    "projects": PROJECT_FIELDS, "projectLocations": LOCATION_FIELDS,
    "issuances": ISSUANCE_FIELDS, "units": UNIT_FIELDS, "retirements": RETIREMENT_FIELDS,
}

# CADT's pick lists for the fields it checks against one.
ENUMERATIONS: dict[str, tuple[str, ...]] = {
    "coveredByNDC": ("Inside NDC", "Outside NDC", "Unknown"),
    "projectStatus": ("Listed", "Validated", "Registered", "Approved", "Authorized",
                      "Completed", "Inactive", "Withdrawn", "Rejected", "De-registered"),
    "unitMetric": ("tCO2e",),
    "unitType": ("Avoidance", "Reduction - nature", "Reduction - technical",
                 "Removal - nature", "Removal - technical", "Not Determined"),
    "unitStatus": ("Held", "Retired", "Cancelled", "Expired", "Inactive", "Buffer",
                   "Exported", "Rejected", "Pending Export"),
    "correspondingAdjustmentDeclaration": ("Committed", "Not Required", "Unknown"),
    "correspondingAdjustmentStatus": ("Not Applicable", "Not Started", "Pending",
                                      "Completed"),
}
# The one country every Qinglu record is in (CADT's `countries` pick list spells it so).
COUNTRY = "China"
STATUS_NEEDS_REASON = ("Retired", "Cancelled")


def validate(document: Any) -> list[str]:
    """What in `document` breaks the model: a table missing, a field unknown or missing,
    a required value empty, a value outside its pick list. Empty: it conforms."""
    if not isinstance(document, dict):
        return ["the document is not a JSON object"]
    problems: list[str] = []
    if document.get("model") != MODEL or document.get("modelVersion") != MODEL_VERSION:
        problems.append(f"model must be {MODEL} {MODEL_VERSION}")
    for table, fields in TABLES.items():
        rows = document.get(table)
        if not isinstance(rows, list):
            problems.append(f"{table}: missing or not a list")
            continue
        for index, row in enumerate(rows):
            problems.extend(f"{table}[{index}]: {p}" for p in _row_problems(row, fields))
    return problems


def _row_problems(row: Any, fields: dict[str, bool]) -> list[str]:
    if not isinstance(row, dict):
        return ["not an object"]
    problems = [f"unknown field {name}" for name in row if name not in fields]
    problems += [f"missing field {name}" for name in fields if name not in row]
    for name, required in fields.items():
        value = row.get(name)
        if required and (value is None or value == "" or value == []):
            problems.append(f"{name} is required")
        allowed = ENUMERATIONS.get(name)
        if allowed is not None and value is not None and value not in allowed:
            problems.append(f"{name} {value!r} is not one of {', '.join(allowed)}")
    if row.get("unitStatus") in STATUS_NEEDS_REASON and not row.get("unitStatusReason"):
        problems.append("unitStatusReason is required for a retired or cancelled unit")
    return problems
