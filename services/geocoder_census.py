"""The US Census batch geocoder client: a CSV of up to 10,000 addresses up, a CSV of matches back.

Why separate: it is one outside service with its own upload format, answer format and failure
messages; the cascade only sees `geocode_batch` and `GeocodingUnavailable`. Each batch request
has a total deadline (services/http_deadline.py: 30 s, retries included) and a Stop abandons it
at once.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import requests

from services.geocode_types import Address, GeocodingUnavailable
from services.http_deadline import ServiceFailure, StopCheck, deadline_seconds, send
from services.npi_registry import make_session
from services.zipcentroids import zip5

DEFAULT_CENSUS_URL = "https://geocoding.geo.census.gov/geocoder"
CENSUS_BENCHMARK = "Public_AR_Current"
CENSUS_MAX_ROWS = 10_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CensusRow:
    id: str
    status: str  # Match / No_Match / Tie
    exact: bool = False
    matched_address: str | None = None
    lat: float | None = None
    lon: float | None = None


def parse_census_csv(text: str) -> dict[str, CensusRow]:
    """Rows of the batch answer by id. A Match carries "lon,lat" (longitude first) and
    Exact/Non_Exact; No_Match and Tie rows carry only the input back."""
    out: dict[str, CensusRow] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 3 or not row[0].strip():
            continue
        rid, status = row[0].strip(), row[2].strip()
        if status == "Match" and len(row) >= 6:
            try:
                lon_s, lat_s = row[5].split(",")
                lat, lon = float(lat_s), float(lon_s)
            except ValueError:
                out[rid] = CensusRow(rid, "No_Match")
                continue
            out[rid] = CensusRow(rid, "Match", row[3].strip() == "Exact", row[4].strip(), lat, lon)
        elif status in ("No_Match", "Tie"):
            out[rid] = CensusRow(rid, status)
    return out


def census_csv(rows: Sequence[tuple[str, Address]]) -> bytes:
    """The header-less upload CSV: id, street, city, state, zip."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for rid, a in rows:
        writer.writerow([rid, a.street or "", a.city or "", a.state or "", zip5(a.zip) or ""])
    return buf.getvalue().encode("utf-8")


class CensusGeocoder:
    """The US Census batch geocoder (multipart upload of a CSV, CSV back).

    `timeout` is (connect, read) per try; `deadline` bounds one batch request, retries
    included (at most 30 s, see services/http_deadline.py)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 2,
        backoff: float = 1.0,
        deadline: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.url = (url or DEFAULT_CENSUS_URL).rstrip("/") + "/locations/addressbatch"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.deadline = deadline_seconds("census") if deadline is None else deadline
        self.session = session or make_session(pool_size=2)

    def geocode_batch(
        self, rows: Sequence[tuple[str, Address]], should_stop: StopCheck | None = None
    ) -> dict[str, CensusRow]:
        if len(rows) > CENSUS_MAX_ROWS:
            raise ValueError(f"the Census batch takes at most {CENSUS_MAX_ROWS} rows")
        if not rows:
            return {}
        try:
            resp = send(
                self.session, "POST", self.url, service="Census geocoder",
                files={"addressFile": ("addresses.csv", census_csv(rows), "text/csv")},
                data={"benchmark": CENSUS_BENCHMARK}, deadline=self.deadline,
                timeout=self.timeout, retries=self.retries, backoff=self.backoff,
                should_stop=should_stop,
            )  # fmt: skip
        except ServiceFailure as exc:
            logger.warning("Census batch of %d rows failed: %s", len(rows), exc.detail)
            raise GeocodingUnavailable(_CENSUS_FAILURES[exc.kind]) from exc
        if resp.status_code >= 400:
            raise GeocodingUnavailable(f"The Census geocoder answered HTTP {resp.status_code}.")
        body = resp.text
        if "html" in resp.headers.get("Content-Type", "").lower() or body.lstrip()[:1] == "<":
            raise GeocodingUnavailable("The Census geocoder answered with a web page, not data.")
        if not body.endswith("\n"):
            # Every line of a whole answer ends in a newline; without it the last line may hold
            # a half-written coordinate, so none of it is trusted.
            logger.warning("Census answer cut short (%d bytes), ends %.80r", len(body), body[-80:])
            raise GeocodingUnavailable("The Census geocoder's answer was cut short.")
        parsed = parse_census_csv(body)
        if len(parsed) < len(rows):  # the missing ones go on down the cascade
            logger.warning("Census answered %d of %d rows.", len(parsed), len(rows))
        return parsed


_CENSUS_FAILURES = {
    "timeout": "The Census geocoder did not answer in time.",
    "unreachable": "The Census geocoder could not be reached.",
    "busy": "The Census geocoder asked us to slow down.",
    "truncated": "The Census geocoder's answer was cut short.",
}
