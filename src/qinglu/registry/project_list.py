"""The public list of projects, read a page at a time (core.paging): the page's projects,
then their issuances' count and total in one aggregate and their latest few issuances in
one query, both over the page's ids only (issuances are indexed by project), so a page
costs the same statements and about the same time on a registry of ten projects or of
a hundred thousand with millions of issuances."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from qinglu.core.paging import Paging
from qinglu.core.quantities import format_quantity
from qinglu.core.serials import format_serial
from qinglu.registry.models import Issuance, Project


@dataclass(frozen=True)
class Issued:
    """A project's issuances in all: how many, and how many base units."""

    count: int = 0
    units: int = 0


def projects_after(session: Session, page: Paging) -> tuple[list[Project], int | None]:
    """The page's projects in id order, and the next page's `after` (None: the last)."""
    found = list(session.scalars(select(Project).where(Project.id > page.after)
                                 .order_by(Project.id).limit(page.limit + 1)))
    return found[:page.limit], page.next_after([p.id for p in found])


def issued_by_project(session: Session, project_ids: Sequence[int]) -> dict[int, Issued]:
    """Each project's issuance count and units issued (a project with none is absent)."""
    if not project_ids:
        return {}
    rows = session.execute(
        select(Issuance.project_id, func.count(), func.sum(Issuance.quantity))
        .where(Issuance.project_id.in_(project_ids)).group_by(Issuance.project_id))
    return {project_id: Issued(int(count), int(units)) for project_id, count, units in rows}


def latest_issuances(session: Session, project_ids: Sequence[int],
                     each: int) -> dict[int, list[Any]]:
    """Each project's `each` latest issuances, newest first, in one query: for each of the
    page's projects, its newest `each` read from the end of the (project_id, id) index,
    the parts joined by UNION ALL. A window ranking the projects' issuances would read
    every issuance of the page's projects first, millions for a green-certificate
    project."""
    if not project_ids:
        return {}
    columns = (Issuance.id, Issuance.project_id, Issuance.product, Issuance.vintage,
               Issuance.quantity, Issuance.serial_start, Issuance.serial_end)
    newest = [select(*columns).where(Issuance.project_id == project_id)
              .order_by(Issuance.id.desc()).limit(each).subquery()
              for project_id in project_ids]
    joined = union_all(*(select(part) for part in newest)).subquery()
    found: dict[int, list[Any]] = {}
    for row in session.execute(select(joined)
                               .order_by(joined.c.project_id, joined.c.id.desc())):
        found.setdefault(row.project_id, []).append(row)
    return found


def issuances_after(session: Session, project_id: int,
                    page: Paging) -> tuple[list[Issuance], int | None]:
    """A page of one project's issuances in the order they were made."""
    found = list(session.scalars(
        select(Issuance).where(Issuance.project_id == project_id, Issuance.id > page.after)
        .order_by(Issuance.id).limit(page.limit + 1)))
    return found[:page.limit], page.next_after([i.id for i in found])


def issuance_view(project: Project, issuance: Any) -> dict[str, Any]:
    """An issuance as the public pages show it: vintage, quantity and serial range."""
    return {"id": issuance.id, "vintage": issuance.vintage,
            "quantity": format_quantity(issuance.product, issuance.quantity),
            "serial": format_serial(issuance.product, project.region, project.id,
                                    issuance.vintage, issuance.serial_start,
                                    issuance.serial_end)}


def issued_view(project: Project, issued: Issued) -> dict[str, Any]:
    return {"count": issued.count, "total": format_quantity(project.product, issued.units)}
