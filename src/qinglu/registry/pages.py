"""Registry pages: projects and issuances, retirements, serial search, a holder's
accounts, and the operator's back office."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from qinglu.core.errors import InvalidInput, NotFound, QingluError
from qinglu.core.paging import Paging
from qinglu.core.principal import ANONYMOUS, Principal
from qinglu.core.quantities import parse_quantity
from qinglu.registry import actions as registry
from qinglu.web.pages import (
    NOTICES,
    SessionDep,
    UserDep,
    check_csrf,
    language,
    render,
    require_user,
)
from qinglu.web.problems import read_field

# The notice a transfer's redirect asks for (a fixed key: see web.pages.NOTICES).
NOTICES["transferred"] = ("已转让", "transferred")

router = APIRouter(include_in_schema=False)


@router.get("/projects", response_class=HTMLResponse)
def projects(request: Request, session: SessionDep, user: UserDep,
             after: str | None = None, limit: str | None = None) -> HTMLResponse:
    page = registry.paging(after, limit, registry.PROJECTS_PAGE_SIZE)
    found = registry.public_projects_page(session, page)
    return render(request, "projects.html", user, projects=found["projects"],
                  **_pager(request, page, found["next"]))


@router.get("/projects/{project_id}", response_class=HTMLResponse)
def project_page(request: Request, project_id: int, session: SessionDep, user: UserDep,
                 after: str | None = None, limit: str | None = None) -> HTMLResponse:
    page = registry.paging(after, limit, registry.ISSUANCES_PAGE_SIZE)
    found = registry.public_project(session, project_id, page)
    return render(request, "project.html", user, project=found["project"],
                  issued=found["issued"], issuances=found["issuances"],
                  **_pager(request, page, found["next"]))


def _pager(request: Request, page: Paging, following: int | None) -> dict[str, Any]:
    """The addresses of a list's first page (when this is not it) and of its next one
    (when there is one): this address's query, its language kept, with other bounds."""
    query = {k: v for k, v in request.query_params.items() if k not in ("after", "limit")}
    first = "?" + urlencode({**query, "limit": page.limit}) if page.after else None
    following_page = (None if following is None else
                      "?" + urlencode({**query, "after": following, "limit": page.limit}))
    return {"first_page": first, "next_page": following_page}


@router.get("/retirements", response_class=HTMLResponse)
def retirements(request: Request, session: SessionDep, user: UserDep) -> HTMLResponse:
    return render(request, "retirements.html", user,
                  retirements=registry.public_retirements(session))


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: SessionDep, user: UserDep,
           serial: str = "") -> HTMLResponse:
    found, error = [], None
    # As typed or pasted: full-width characters folded, spaces dropped (case is the
    # parser's to fold).
    serial = "".join(unicodedata.normalize("NFKC", serial).split())
    if serial:
        try:
            found = registry.find_serial(session, serial)
        except QingluError as exc:
            error = exc.zh if language(request) == "zh" else exc.en
    template = "_serial_result.html" if request.headers.get("HX-Request") else "search.html"
    return render(request, template, user, serial=serial, found=found, error=error)


# The pickers' fields and what each chooses (a holder, or a holder's holding account).
PICKER_FIELDS = {"defendant": "holder", "authority_holder_id": "holder",
                 "holder_id": "holder", "seller_account": "account", "to_account": "account",
                 "account_id": "account"}


@router.get("/holders/search", response_class=HTMLResponse)
def holder_search(request: Request, session: SessionDep, user: UserDep,
                  field: str = "defendant") -> HTMLResponse:
    """A picker's matches as radios for its form (htmx), by name or credit code."""
    if field not in PICKER_FIELDS:
        field = "defendant"
    query = request.query_params.get(field, "")
    found = registry.search_holders(session, user or ANONYMOUS, query)
    return render(request, "_holder_choices.html", user, name=field, mode=PICKER_FIELDS[field],
                  choices=found, chosen=None, query=query)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, session: SessionDep, user: UserDep,
                 message: str | None = None) -> HTMLResponse:
    return _account_view(request, session, user, message=message)


def _account_view(request: Request, session: SessionDep, user: UserDep,
                  message: str | None = None, form: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, status: int = 200) -> HTMLResponse:
    holder = require_user(user, "holder")
    form = form or {}
    typed = form.get("to_account", "")
    choices = registry.search_holders(session, holder, typed) if errors and typed else []
    return render(request, "account.html", user, status=status,
                  balances=registry.holdings_of(session, holder), message=message,
                  form=form, errors=errors or {}, choices=choices)


@router.post("/account/transfer", response_model=None)
def account_transfer(
    request: Request, session: SessionDep, user: UserDep,
    from_account: Annotated[str, Form()], to_account: Annotated[str, Form()],
    product: Annotated[str, Form()], quantity: Annotated[str, Form()],
    to_account_pick: Annotated[str, Form()] = "",
    csrf: Annotated[str | None, Form()] = None,
) -> Response:
    """A holder's transfer: the recipient chosen by name or code, the quantity as typed
    (full-width digits, a decimal comma); a refusal shows the form again as it was typed,
    the message beside its field; success answers with a redirect (a refresh does not
    transfer again)."""
    holder = require_user(user, "holder")
    check_csrf(request, csrf)
    lang = language(request)
    errors: dict[str, str] = {}
    source = read_field(errors, "from_account", lang, lambda: registry.chosen_party(
        session, holder, from_account, account=True))
    recipient = read_field(errors, "to_account", lang, lambda: registry.chosen_party(
        session, holder, to_account, to_account_pick, account=True))
    units = read_field(errors, "quantity", lang, lambda: parse_quantity(product, quantity))
    if source is not None and recipient is not None and units is not None and not errors:
        read_field(errors, "form", lang, lambda: registry.transfer(
            session, from_account=source, to_account=recipient, product=product,
            quantity=units, actor=holder))
    if errors:
        typed = {"to_account": to_account, "quantity": quantity, "product": product,
                 "from_account": from_account}
        return _account_view(request, session, user, form=typed, errors=errors, status=422)
    return RedirectResponse("/account?message=transferred", status_code=303)


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: UserDep,
               message: str | None = None) -> HTMLResponse:
    require_user(user, "operator")
    return render(request, "admin.html", user, holders=registry.holders_with_accounts(session),
                  message=message)


ADMIN_NOTICES = {"holder": "holder-added", "account": "account-opened",
                 "project": "project-added", "issue": "units-issued"}
NOTICES.update({"holder-added": ("已添加持有人", "holder added"),
                "account-opened": ("已开立账户", "account opened"),
                "project-added": ("已登记项目", "project registered"),
                "units-issued": ("已签发", "units issued")})


@router.post("/admin/{action}", response_model=None)
async def admin_action(request: Request, action: str, session: SessionDep,
                       user: UserDep) -> Response:
    """The back office's forms: holder, account, project, issue. Done: a redirect to a
    fixed notice (the new row is in the tables); refused: the page again, the reason in
    its language and nothing written."""
    who = require_user(user, "operator")
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(request, form.pop("csrf", None))
    if action not in ADMIN_NOTICES:
        raise NotFound(f"没有“{action}”这项操作", f"there is no back-office action {action!r}")
    try:
        _admin_write(session, who, action, form)
    except QingluError as exc:
        message = exc.zh if language(request) == "zh" else exc.en
        return render(request, "admin.html", user, status=exc.status, message=message,
                      holders=registry.holders_with_accounts(session))
    return RedirectResponse(f"/admin?message={ADMIN_NOTICES[action]}", status_code=303)


def _whole(form: dict[str, str], field: str) -> int:
    """A whole number from the back office's form, as typed (full-width digits, spaces)."""
    typed = form.get(field, "")
    raw = "".join(unicodedata.normalize("NFKC", typed).split())
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput(f"{field} 须为整数：“{typed}”",
                           f"{field} must be a whole number: “{typed}”")
    return int(raw)


def _admin_write(session: SessionDep, who: Principal, action: str,
                 form: dict[str, str]) -> dict[str, Any]:
    text = form.get
    if action == "holder":
        return registry.add_holder(session, kind=text("kind", ""), name=text("name", ""),
                                   id_number=text("id_number", ""), region=text("region", ""),
                                   actor=who.actor)
    if action == "account":
        holder = registry.chosen_party(session, who, text("holder_id", ""),
                                       text("holder_id_pick", ""))
        return registry.open_account(session, holder_id=holder,
                                     kind=text("kind", ""), actor=who.actor)
    if action == "project":
        return registry.add_project(session, name=text("name", ""), product=text("product", ""),
                                    region=text("region", ""),
                                    methodology=text("methodology", ""), actor=who.actor)
    project_id = _whole(form, "project_id")
    return registry.issue(session, project_id=project_id, vintage=_whole(form, "vintage"),
                          quantity=registry.project_quantity(session, project_id,
                                                             text("quantity", "")),
                          to_account=registry.chosen_party(
                              session, who, text("account_id", ""), text("account_id_pick", ""),
                              account=True), actor=who.actor)
