"""The values every step of the geocoding cascade speaks: an address, its cache key, a result,
and the error a service raises when it cannot be used.

Why separate: the cache, both geocoder clients and the cascade all use these, and the clients
must not depend on the database (the cache) or on each other just to share a dataclass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.zipcentroids import zip5


class GeocodingUnavailable(RuntimeError):
    """A geocoding service could not be used; the message is meant for the user."""


@dataclass(frozen=True)
class Address:
    street: str | None
    city: str | None
    state: str | None
    zip: str | None

    @property
    def key(self) -> str:
        return address_key(self.street, self.city, self.state, self.zip)

    @property
    def one_line(self) -> str:
        tail = " ".join(p for p in (self.state, self.zip) if p)
        return ", ".join(p for p in (self.street, self.city, tail) if p)


@dataclass(frozen=True)
class GeocodeResult:
    lat: float
    lon: float
    source: str  # census / nominatim / zip_centroid / manual
    precision: str  # address / street / zip

    @property
    def approximate(self) -> bool:
        return self.precision == "zip"


_PUNCT = re.compile(r"[^\w\s#-]")


def _norm(value: str | None) -> str:
    return " ".join(_PUNCT.sub(" ", value.upper()).split()) if value else ""


def address_key(
    street: str | None, city: str | None, state: str | None, zip_code: str | None
) -> str:
    """The cache key: upper-cased, punctuation and spacing folded, ZIP cut to five digits, so
    "1601 E. 19th Ave" and "1601 E 19TH AVE" share one entry."""
    return "|".join((_norm(street), _norm(city), _norm(state)[:2], zip5(zip_code) or ""))
