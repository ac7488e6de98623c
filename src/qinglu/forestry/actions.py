"""Forestry actions: all that the `qinglu parcel|monitoring|tree` commands, the forestry
API and the back-office pages call.

Each state change is one ledger write. Most live beside their rules (parcels.py:
import and overlap checks; monitoring.py: the monitoring report's steps and issuance;
trees.py: single trees and their tree-years; reversals.py: a fire over registered
parcels) and are named here; the reads adapters need return views, never rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from qinglu.forestry import monitoring, parcels, reversals, trees
from qinglu.forestry.errors import ImportRefused
from qinglu.forestry.models import Tree, TreeYear
from qinglu.forestry.report import render_monitoring_report

__all__ = [
    "ImportRefused", "approve_report", "compute_tree_sinks", "import_parcel_features",
    "import_parcels_file", "import_trees_file", "issue_report", "issue_tree_year",
    "monitoring_report", "monitoring_report_pdf", "monitoring_reports", "record_reversal",
    "register_trees", "reject_report", "submit_report", "trees_of", "trees_overview",
]

# The monitoring workflow: submitted -> approved (a verifier) or rejected -> issued.
submit_report = monitoring.submit
approve_report = monitoring.approve
reject_report = monitoring.reject
issue_report = monitoring.issue
# Single trees: registered all or none; a year's sink computed (nothing written) or issued.
register_trees = trees.register
import_trees_file = trees.import_file
compute_tree_sinks = trees.compute_sinks
issue_tree_year = trees.issue_year


def _import_view(report: parcels.ImportReport) -> dict[str, Any]:
    return {"imported": report.imported,
            "skipped": [{"row": row, "reason": reason} for row, reason in report.skipped]}


def import_parcels_file(session: Session, *, project_id: int, path: Path, actor: str,
                        attributes: Path | None = None, skip_bad: bool = False,
                        encoding: str | None = None) -> dict[str, Any]:
    """Parcels from a GeoJSON or Shapefile (and an attribute table): all, or with
    `skip_bad` the good ones; ImportRefused names each bad feature."""
    return _import_view(parcels.import_file(
        session, project_id=project_id, path=path, actor=actor, attributes=attributes,
        skip_bad=skip_bad, encoding=encoding))


def import_parcel_features(session: Session, *, project_id: int, collection: dict[str, Any],
                           actor: str, skip_bad: bool = False,
                           idempotency_key: str | None = None) -> dict[str, Any]:
    """Parcels from a GeoJSON FeatureCollection (its `crs` named or CGCS2000)."""
    features, crs = parcels.geojson_features(collection)
    drafts, problems = parcels.validate(features, crs)
    return _import_view(parcels.register(
        session, project_id=project_id, drafts=drafts, problems=problems, actor=actor,
        skip_bad=skip_bad, idempotency_key=idempotency_key))


def monitoring_reports(session: Session, project_id: int | None = None
                       ) -> list[dict[str, Any]]:
    """Monitoring reports, newest first (of one project if named)."""
    return [monitoring.report_view(r) for r in monitoring.list_reports(session, project_id)]


def monitoring_report(session: Session, report_id: int) -> dict[str, Any]:
    return monitoring.report_view(monitoring.get_report(session, report_id))


def monitoring_report_pdf(session: Session, report_id: int) -> bytes:
    """The monitoring report as a PDF (Chinese, English beside)."""
    return render_monitoring_report(session, monitoring.get_report(session, report_id))


def record_reversal(session: Session, *, case_id: int, actor: str,
                    burned_polygon: dict[str, Any] | None = None,
                    idempotency_key: str | None = None) -> dict[str, Any]:
    """A fire over registered parcels: the case's burned area (if given now), then the
    burned share of the credited carbon cancelled from the buffer; a shortfall flags
    the project."""
    if burned_polygon is not None:
        reversals.set_burned_area(session, case_id=case_id, geojson=burned_polygon,
                                  actor=actor)
    return reversals.reverse(session, case_id=case_id, actor=actor,
                             idempotency_key=idempotency_key)


def trees_of(session: Session, project_id: int) -> list[dict[str, Any]]:
    """A project's registered trees."""
    return [trees.tree_view(t) for t in trees.list_trees(session, project_id)]


def trees_overview(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Every registered tree and every tree-year issued (the back office's view)."""
    registered = session.scalars(select(Tree).order_by(Tree.project_id, Tree.number)).all()
    numbers = {t.id: t.number for t in registered}
    years = session.scalars(select(TreeYear).order_by(TreeYear.year.desc(),
                                                      TreeYear.tree_id)).all()
    return {"trees": [trees.tree_view(t) for t in registered],
            "years": [{**trees.tree_year_view(y), "number": numbers.get(y.tree_id)}
                      for y in years]}
