"""What a device's locale tells us: its region and the first day of the week people there use."""

from __future__ import annotations

from enum import IntEnum


class Weekday(IntEnum):
    """ISO 8601 weekday numbers, as ``date.isoweekday()`` returns them."""

    MONDAY = 1
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7


# Regions whose calendars start the week on another day than Monday (Unicode CLDR supplemental
# weekData "firstDay", which iOS and Android calendars follow). Everywhere else: Monday.
_FIRST_DAY_BY_REGION: dict[str, Weekday] = {
    region: day
    for day, regions in (
        (Weekday.FRIDAY, "MV"),
        (Weekday.SATURDAY, "AE AF BH DJ DZ EG IQ IR JO KW LY OM QA SD SY"),
        (
            Weekday.SUNDAY,
            "AG AS BD BR BS BT BW BZ CA CN CO DM DO ET GT GU HK HN ID IL IN JM JP KE KH KR LA MH "
            "MM MO MT MX MZ NI NP PA PE PH PK PR PT PY SA SG SV TH TT TW UM US VE VI WS YE ZA ZW",
        ),
    )
    for region in regions.split()
}


def region_of(locale: str) -> str | None:
    """The region subtag of a BCP 47 locale (``de-DE`` -> ``DE``, ``zh-Hant-TW`` -> ``TW``).

    Apple and Android also report ``en_US``; a bare language (``en``) has no region.
    """
    _language, *subtags = locale.replace("_", "-").split("-")
    for subtag in subtags:
        if len(subtag) == 2 and subtag.isalpha():
            return subtag.upper()
        if len(subtag) == 3 and subtag.isdigit():
            return subtag  # a UN M.49 area such as 419 (Latin America): no single calendar
        if len(subtag) == 1:
            break  # extensions (-u-..., -x-...) follow; the region comes before them
    return None


def first_day_of_week(locale: str) -> Weekday:
    """The first day of the week for ``locale``; Monday (ISO 8601) when the region is unknown."""
    region = region_of(locale)
    return _FIRST_DAY_BY_REGION.get(region or "", Weekday.MONDAY)
