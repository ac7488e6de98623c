"""Green electricity: the CO2 a quantity of green power stands for, and the rules of the
national green certificate (GEC, 绿证) that do not need a database.

CO2. `co2_of(kwh, year, factor, region)` multiplies the electricity by one named, dated
electricity CO2 emission factor published by MEE and NBS (生态环境部 国家统计局), kept
with its source in parameters/grid_emission_factors.csv and looked up for the year the
electricity was produced or consumed. Which factor is a parameter and goes into the
result: the grid average (national or regional) or the fossil-power factor are what a
claim of avoided CO2 uses; the factor "excluding market-traded non-fossil power" is
meant for consumers *without* certificates (so green power is not counted twice) and is
offered for comparison only. The arithmetic is exact (Decimal): 50,000 kWh x 0.5366
kgCO2/kWh = 26,830 kg = 26.83 t.

Certificates. Rules of 国家发展改革委 财政部 国家能源局《关于做好可再生能源绿色电力证书全覆盖
工作 促进可再生能源电力消费的通知》(发改能源〔2023〕1044号, 2023-07-25) and 国家能源局
《可再生能源绿色电力证书核发和交易规则》(国能发新能规〔2024〕67号, 2024-08-26):
- 1 certificate = 1,000 kWh; a month's remainder below 1,000 kWh is carried to the next
  month (`certificates_for`);
- tradable: wind, solar, biomass, geothermal, ocean, and conventional hydro commissioned
  on or after 2023-01-01; issued but not tradable: self-consumed electricity and hydro
  commissioned before 2023-01-01; none for storage (`tradability`);
- valid two years counted from the production month, that month included; electricity
  produced before 2024-01-01 valid to 2025-12-31 (`last_valid_day`);
- the serial has 32 characters: the project's 17-character filing code (建档立卡) and 15
  for the electricity (production date, sequence, class). The field widths and the
  check-code algorithm are not published, so `parse_serial` checks the length and the
  characters and splits 17 + 15, nothing more.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date
from decimal import Decimal
from typing import Any

from qinglu.core.errors import InvalidInput, InvalidSerial
from qinglu.methods.params import Parameter, ParameterTable, packaged_table

METHOD_ID = "green.grid_factor"
METHOD_VERSION = "1.0.0"
KWH_PER_CERTIFICATE = 1000
FACTORS = {
    "grid_average": ("电网平均排放因子", "grid average emission factor"),
    "fossil": ("化石能源电力排放因子", "fossil-power emission factor"),
    "excl_market_nonfossil": ("不包括市场化交易的非化石能源电量的全国电力平均排放因子",
                              "national factor excluding market-traded non-fossil power"),
}
REGIONS = {
    "national": "全国", "north": "华北", "northeast": "东北", "east": "华东", "central": "华中",
    "northwest": "西北", "south": "南方", "southwest": "西南",
}
DEFAULT_FACTOR = "grid_average"
DEFAULT_REGION = "national"
TECHNOLOGIES = ("wind", "solar", "biomass", "geothermal", "ocean", "hydro", "storage")
HYDRO_TRADABLE_FROM = date(2023, 1, 1)
VALIDITY_MONTHS = 24
LEGACY_PRODUCED_BEFORE = date(2024, 1, 1)
LEGACY_VALID_TO = date(2025, 12, 31)
SERIAL_LENGTH, PROJECT_CODE_LENGTH = 32, 17


class GreenInputError(InvalidInput):
    code = "invalid-green-input"


def _table() -> ParameterTable:
    return packaged_table("grid_emission_factors.csv", ("factor", "region"))


@dataclass(frozen=True)
class Co2Result:
    kwh: int
    year: int
    factor: str
    region: str
    factor_kg_per_kwh: Decimal
    factor_source: str
    factor_status: str
    co2_kg: Decimal

    @property
    def co2_t(self) -> Decimal:
        return self.co2_kg / 1000

    @property
    def co2_t_text(self) -> str:
        """The tonnes exactly, without trailing zeros: '26.83'."""
        return f"{self.co2_t.normalize():f}"

    @property
    def factor_name(self) -> str:
        zh, en = FACTORS[self.factor]
        where = REGIONS[self.region] + ("" if self.region == "national" else "区域")
        return f"{self.year}年{where}{zh} / {en}, {self.region}, {self.year}"

    def to_json_dict(self) -> dict[str, Any]:
        return {"method": METHOD_ID, "version": METHOD_VERSION, "kwh": self.kwh,
                "year": self.year, "factor": self.factor, "region": self.region,
                "co2_t": float(self.co2_t), "co2_kg": float(self.co2_kg),
                "factor_kg_per_kwh": float(self.factor_kg_per_kwh),
                "factor_name": self.factor_name, "factor_source": self.factor_source,
                "factor_status": self.factor_status}


def co2_of(kwh: int, year: int, factor: str | None = None,
           region: str | None = None) -> Co2Result:
    """The CO2 of `kwh` of electricity of `year` at one named MEE/NBS factor."""
    factor = factor or DEFAULT_FACTOR
    region = region or DEFAULT_REGION
    if isinstance(kwh, bool) or not isinstance(kwh, int) or kwh < 0:
        raise GreenInputError(f"电量须为非负整数 kWh：{kwh!r}",
                              f"electricity must be a whole number of kWh >= 0: {kwh!r}")
    if factor not in FACTORS:
        raise GreenInputError(f"排放因子 {factor!r} 无效（可选 {' '.join(FACTORS)}）",
                              f"unknown factor {factor!r}; choose one of {', '.join(FACTORS)}")
    if region not in REGIONS:
        raise GreenInputError(f"区域 {region!r} 无效（可选 {' '.join(REGIONS)}）",
                              f"unknown region {region!r}; choose one of {', '.join(REGIONS)}")
    found = _factor_of_year(factor, region, year)
    if found is None:
        raise GreenInputError(f"无 {year} 年{REGIONS[region]}的{FACTORS[factor][0]}"
                              "（未发布或未收录）",
                              f"no published {factor} factor for {region} in {year}")
    per_kwh = Decimal(repr(found.value))
    return Co2Result(kwh, year, factor, region, per_kwh, found.source, found.status,
                     kwh * per_kwh)


def _factor_of_year(factor: str, region: str, year: int) -> Parameter | None:
    """The factor in force at mid-year, or None for a year without one (a year before
    1 or after 9999 has none: no date names it)."""
    if not MINYEAR <= year <= MAXYEAR:
        return None
    return _table().get((factor, region), date(year, 7, 1))


def latest_year(factor: str | None, region: str | None, up_to: int) -> int:
    """The latest year up to `up_to` with a published factor (published two years or so
    after the year they describe): what a claim uses when it names no year."""
    factor, region = factor or DEFAULT_FACTOR, region or DEFAULT_REGION
    for year in range(up_to, up_to - 10, -1):
        if _factor_of_year(factor, region, year) is not None:
            return year
    raise GreenInputError(f"{up_to} 年及以前无{REGIONS.get(region, region)}的该排放因子",
                          f"no {factor} factor for {region} up to {up_to}")


def certificates_for(kwh: int, carried_kwh: int = 0) -> tuple[int, int]:
    """A month's certificates and the kWh carried to the next month."""
    if kwh < 0 or carried_kwh < 0:
        raise GreenInputError("电量不能为负", "electricity cannot be negative")
    total = kwh + carried_kwh
    return total // KWH_PER_CERTIFICATE, total % KWH_PER_CERTIFICATE


def tradability(technology: str, commissioned: date, self_consumed: bool = False) -> str:
    """'tradable', 'non_tradable' (issued, cannot move) or 'none' (no certificates)."""
    if technology not in TECHNOLOGIES:
        raise GreenInputError(f"技术类型 {technology!r} 无效（可选 {' '.join(TECHNOLOGIES)}）",
                              f"unknown technology {technology!r}")
    if technology == "storage":
        return "none"
    if self_consumed or (technology == "hydro" and commissioned < HYDRO_TRADABLE_FROM):
        return "non_tradable"
    return "tradable"


def last_valid_day(production_month: date) -> date:
    """Two years from the production month, that month counted (2024-03 -> the last day
    of 2026-02); electricity produced before 2024 -> 2025-12-31."""
    first = production_month.replace(day=1)
    if first < LEGACY_PRODUCED_BEFORE:
        return LEGACY_VALID_TO
    months = first.year * 12 + first.month - 1 + VALIDITY_MONTHS - 1
    year, month = divmod(months, 12)
    return date(year, month + 1, calendar.monthrange(year, month + 1)[1])


def green_share(certificates: int, consumption_kwh: int) -> Decimal:
    """Certificate MWh / consumption, as a fraction (1 = 100 %)."""
    if consumption_kwh <= 0:
        raise GreenInputError("用电量须大于零", "consumption must be more than zero kWh")
    return Decimal(certificates * KWH_PER_CERTIFICATE) / Decimal(consumption_kwh)


@dataclass(frozen=True)
class GecSerial:
    serial: str
    project_code: str
    electricity_code: str

    def to_json_dict(self) -> dict[str, Any]:
        return {"serial": self.serial, "project_code": self.project_code,
                "electricity_code": self.electricity_code, "check_code_validated": False}


def parse_serial(text: str) -> GecSerial:
    """A national 32-character serial split 17 + 15 (length and characters only)."""
    serial = text.strip().upper()
    if len(serial) != SERIAL_LENGTH:
        raise InvalidSerial(f"绿证编号须为 32 位，收到 {len(serial)} 位",
                            f"a GEC serial has 32 characters, got {len(serial)}")
    if not serial.isascii() or not serial.isalnum():
        raise InvalidSerial("绿证编号只能含数字和字母",
                            "a GEC serial holds only digits and letters")
    return GecSerial(serial, serial[:PROJECT_CODE_LENGTH], serial[PROJECT_CODE_LENGTH:])
