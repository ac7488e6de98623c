"""Jinja filters every page template has (web, basins and green environments alike):
codes by their label in the page's language, product names from the products table,
places by name, times in China Standard Time with the zone, quantities with a unit.

    {{ order.status | label('order_status') }}   {{ 'FCS' | product }}
    {{ '522629' | place }}   {{ listing.expires_at | when }}   {{ q | qty('FCS') }}
    {{ entry.actor | actor }}
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from qinglu.core import labels
from qinglu.core.errors import QingluError
from qinglu.core.quantities import product_spec
from qinglu.core.regions import place_name


def _lang(context: Context) -> str:
    return "en" if context.get("lang") == "en" else "zh"


@pass_context
def label(context: Context, code: object, group: str | None = None) -> str:
    return labels.label(code, _lang(context), group)


@pass_context
def product(context: Context, code: object) -> str:
    """A product's name as its row in the products table gives it."""
    lang = _lang(context)
    try:
        spec = product_spec(str(code))
    except QingluError:
        return labels.label(code, lang, "product")
    if lang == "en" and spec.name_en and spec.name_en != spec.name_zh:
        return spec.name_en
    return labels.label(code, lang, "product") if lang == "en" else spec.name_zh


@pass_context
def unit(context: Context, code: object) -> str:
    """The unit a product is counted in (tCO2e, MWh)."""
    try:
        return product_spec(str(code)).unit
    except QingluError:
        return ""


@pass_context
def qty(context: Context, value: object, product_or_unit: str) -> Markup:
    """A quantity with its unit: a product code gives the product's unit; any other
    text is the unit itself."""
    if value is None or value == "":
        return Markup("—")
    try:
        unit_text = product_spec(product_or_unit).unit
    except QingluError:
        unit_text = product_or_unit
    return Markup('{} <span class="unit">{}</span>').format(value, unit_text)


@pass_context
def when(context: Context, value: Any) -> Markup:
    """A <time> in China Standard Time with its zone, each kept on one line."""
    text = labels.local_time(value, _lang(context))
    moment = labels.as_shanghai(value) if value not in (None, "") else None
    if not isinstance(moment, datetime):
        return Markup.escape(text)
    stamp, zone = text[:16], text[17:]
    return Markup('<span class="when"><time datetime="{}" class="nowrap">{}</time> '
                  '<span class="nowrap">{}</span></span>'
                  ).format(moment.isoformat(timespec="minutes"), stamp, zone)


@pass_context
def place(context: Context, code: object) -> str:
    return place_name(str(code), _lang(context)) if code else "—"


@pass_context
def actor(context: Context, value: object) -> str:
    """A ledger actor "authority:majiang" as "办案机关 majiang" / "authority majiang"."""
    text = str(value or "")
    role, sep, name = text.partition(":")
    if not sep or labels.lookup(role, "role") is None:
        return text or "—"
    return f"{labels.label(role, _lang(context), 'role')} {name}"


@pass_context
def one_language(context: Context, text: object) -> str:
    """A message written "中文 / English" shown in the page's language only."""
    value = str(text or "")
    zh, sep, en = value.partition(" / ")
    if sep and labels.has_cjk(zh) and not labels.has_cjk(en):
        return en if _lang(context) == "en" else zh
    return value


@pass_context
def switch_language(context: Context, lang: str) -> str:
    """This page's address in the other language: its query kept (a verification link's
    number and payload), only `lang` changed."""
    request = context.get("request")
    query = dict(request.query_params) if request is not None else {}
    query["lang"] = lang
    return "?" + urlencode(query)


@pass_context
def product_names(context: Context, rows: Iterable[Any] | None) -> dict[str, str]:
    """{code: name} for the products of `rows` (dicts with a "product"), for a chart."""
    codes = {str(r["product"]) for r in rows or [] if isinstance(r, dict) and "product" in r}
    return {code: product(context, code) for code in sorted(codes)}


@pass_context
def place_names(context: Context, rows: Iterable[Any] | None) -> dict[str, str]:
    """{region code: its name in the page's language} for the rows of a chart."""
    codes = {str(r["region"]) for r in rows or [] if isinstance(r, dict) and r.get("region")}
    return {code: place(context, code) for code in sorted(codes)}


FILTERS = {"label": label, "product": product, "unit": unit, "qty": qty, "when": when,
           "place": place, "actor": actor,
           "one_language": one_language,
           "switch_language": switch_language, "product_names": product_names,
           "place_names": place_names}


def install(env: Environment) -> Environment:
    env.filters.update(FILTERS)
    return env
