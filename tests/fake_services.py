"""Local stand-ins for the NPI Registry, the Census batch geocoder and Nominatim, on 127.0.0.1.

They behave like the real services where our code depends on it (paging with limit/skip, loose
taxonomy matching, `address_purpose=LOCATION`, errors 04/09/14 as HTTP 200, the batch CSV with
Match/No_Match/Tie, Nominatim's JSON list of places), and misbehave on demand (HTML maintenance
page, malformed or truncated answers, 500s, 429 with Retry-After, slow answers, added latency, a
hung service that never answers, a connection closed mid-answer), so the clients are tested
against a real socket, not a mock.

Run `python -m tests.fake_services` to serve a synthetic Denver dataset for a manual look.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from services.npi import make_npi
from services.specialties import NUCC_TEXT
from services.zipcentroids import centroid

NPI_PATH = "/api/"
CENSUS_PATH = "/geocoder/locations/addressbatch"
NOMINATIM_PATH = "/nominatim/search"
MAINTENANCE_HTML = (
    "<!DOCTYPE html><html><head><title>NPPES NPI Registry</title></head><body>"
    "<h1>The NPI Registry is down for scheduled maintenance</h1></body></html>"
)

#: Texts the fake registry knows (error 14 for anything else), like NUCC's table.
KNOWN_DESCRIPTIONS = {t for pair in NUCC_TEXT.values() for t in pair if t} | {
    "Student in an Organized Health Care Education/Training Program",
    "Anesthesiology",
}


def provider_result(
    npi: str,
    *,
    last: str,
    first: str = "ALEX",
    code: str = "207X00000X",
    street: str = "100 MAIN ST",
    city: str = "DENVER",
    state: str = "CO",
    postal_code: str = "802061234",
    organization: str | None = None,
    mailing_first: bool = False,
    npi_as_int: bool = False,
    extra_codes: Iterable[str] = (),
) -> dict[str, Any]:
    """A registry result in the 2.1 shape (the drift options pick the older or newer form)."""
    classification, specialization = NUCC_TEXT.get(code, ("Unknown", ""))
    desc = f"{classification}, {specialization}" if specialization else classification
    location = {
        "country_code": "US", "country_name": "United States", "address_purpose": "LOCATION",
        "address_type": "DOM", "address_1": street, "address_2": "", "city": city,
        "state": state, "postal_code": postal_code, "telephone_number": "303-555-0100",
    }  # fmt: skip
    mailing = {**location, "address_purpose": "MAILING", "address_1": "PO BOX 99"}
    basic: dict[str, Any] = {"status": "A", "enumeration_date": "2010-01-05",
                             "last_updated": "2024-03-01"}  # fmt: skip
    if organization:
        basic["organization_name"] = organization
    else:
        basic.update(first_name=first, last_name=last, credential="MD")
    taxonomies = [{"code": code, "desc": desc, "primary": True, "state": state, "license": "1"}]
    for other in extra_codes:
        c2, s2 = NUCC_TEXT.get(other, ("Other", ""))
        taxonomies.append(
            {"code": other, "desc": f"{c2} {s2}".strip(), "primary": False, "state": state}
        )
    return {
        "enumeration_type": "NPI-2" if organization else "NPI-1",
        "number": int(npi) if npi_as_int else npi,
        "basic": basic,
        "addresses": [mailing, location] if mailing_first else [location, mailing],
        "taxonomies": taxonomies,
        "practiceLocations": [],
    }


def synthetic_area(
    zips: Iterable[str], codes: Iterable[str], per_pair: int = 2, seed: int = 1
) -> list[dict[str, Any]]:
    """`per_pair` providers for every (ZIP, taxonomy code): a dense, repeatable fake area."""
    results = []
    serial = 100_000 * seed
    for z in zips:
        for code in codes:
            for i in range(per_pair):
                serial += 1
                npi = make_npi(f"17{serial:07d}")
                results.append(
                    provider_result(
                        npi,
                        last=f"TESTER{serial}",
                        code=code,
                        street=f"{100 + i * 10 + serial % 90} COLFAX AVE",
                        postal_code=f"{z}0001",
                        mailing_first=serial % 2 == 0,
                        npi_as_int=serial % 3 == 0,
                    )
                )
    return results


def _all_descs(result: dict[str, Any]) -> list[str]:
    texts = []
    for tax in result.get("taxonomies", []):
        pair = NUCC_TEXT.get(tax.get("code"), ("", ""))
        texts.extend(t.lower() for t in pair if t)
        texts.append(str(tax.get("desc", "")).lower())
    return texts


def _set_event() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


#: An answer: status, content type, body, and optionally extra headers. The header
#: TRUNCATE_TRANSFER makes the server announce the whole body but send half, then hang up.
Answer = tuple[int, str, str] | tuple[int, str, str, dict[str, str]]
TRUNCATE_TRANSFER = "X-Fake-Truncate-Transfer"


@dataclass
class Misbehaviour:
    """Faults every fake service can show, checked before it answers normally.

    `hang` holds the request until the test ends (the server's exit releases it); `busy_first`
    answers that many requests with HTTP 429 and `Retry-After: retry_after`; `truncate` sends
    the first `truncate` characters of the real answer with a matching length (a cut answer),
    `truncate_transfer` announces the whole answer and hangs up half-way."""

    hang: bool = False
    hang_after: int | None = None  # answer this many requests, then hang
    busy_first: int = 0
    retry_after: str = "1"
    truncate: int = 0
    truncate_transfer: bool = False
    seen: int = 0
    hung: int = 0  # requests that were held
    unhang: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before(self) -> Answer | None:
        with self.lock:
            self.seen += 1
            busy = self.busy_first > 0
            if busy:
                self.busy_first -= 1
            hang = self.hang or (self.hang_after is not None and self.seen > self.hang_after)
        if hang:
            with self.lock:
                self.hung += 1
            self.unhang.wait(timeout=120)
            return 503, "text/plain", "released"
        if busy:
            return 429, "text/plain", "Too Many Requests", {"Retry-After": self.retry_after}
        return None

    def after(self, answer: Answer) -> Answer:
        status, ctype, body, *rest = answer
        headers = dict(rest[0]) if rest else {}
        if self.truncate:
            body = body[: self.truncate]
        if self.truncate_transfer:
            headers[TRUNCATE_TRANSFER] = "1"
        return status, ctype, body, headers


@dataclass
class FakeNpiRegistry:
    """The registry's behaviour; tests set `mode` or the counters to make it misbehave."""

    results: list[dict[str, Any]] = field(default_factory=list)
    latency: float = 0.0
    #: ok | html | malformed | slow | status500 | error04 | error09 | error14
    mode: str = "ok"
    fail_first: int = 0  # answer this many requests with HTTP 500, then behave
    slow_seconds: float = 3.0
    #: Cleared by a test that must catch a search while it runs: every request waits for it
    #: (up to 30 s), so the outcome does not depend on how fast a loaded CI machine is.
    release: threading.Event = field(default_factory=_set_event)
    requests: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    fault: Misbehaviour = field(default_factory=Misbehaviour)
    in_flight: int = 0
    max_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, query: dict[str, str], headers: Any) -> Answer:
        with self._lock:
            self.requests.append(query)
            self.user_agents.append(headers.get("User-Agent", ""))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            failing = self.fail_first > 0
            if failing:
                self.fail_first -= 1
        try:
            self.release.wait(timeout=30)
            faulty = self.fault.before()
            if faulty is not None:
                return faulty
            if self.latency:
                time.sleep(self.latency)
            if failing or self.mode == "status500":
                return 500, "text/plain", "Internal Server Error"
            if self.mode == "slow":
                time.sleep(self.slow_seconds)
            if self.mode == "html":
                return 200, "text/html; charset=utf-8", MAINTENANCE_HTML
            if self.mode == "malformed":
                return 200, "application/json", '{"result_count": 3, "results": [{"number": '
            return self.fault.after((200, "application/json", json.dumps(self._answer(query))))
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def _error(field_name: str, number: str, text: str) -> dict[str, Any]:
        return {"Errors": [{"field": field_name, "number": number, "description": text}]}

    def _answer(self, q: dict[str, str]) -> dict[str, Any]:
        if self.mode == "error04":
            return self._error("generic", "04", "No valid search criteria provided")
        if self.mode == "error09":
            return self._error(
                "enumeration_type", "09", "enumeration_type requires additional search criteria"
            )
        narrowing = {"version", "limit", "skip", "enumeration_type", "state", "address_purpose",
                     "country_code"}  # fmt: skip
        if not set(q) - narrowing:
            if "enumeration_type" in q:
                return self._error(
                    "enumeration_type", "09", "enumeration_type requires additional search criteria"
                )
            return self._error("generic", "04", "No valid search criteria provided")
        desc = q.get("taxonomy_description", "")
        if self.mode == "error14" or (desc and desc not in KNOWN_DESCRIPTIONS):
            return self._error(
                "taxonomy_description", "14", "No taxonomy codes found with entered description"
            )
        hits = [r for r in self.results if self._matches(r, q)]
        skip, limit = int(q.get("skip", 0)), min(200, int(q.get("limit", 10)))
        page = hits[skip : skip + limit]
        return {"result_count": len(page), "results": page}

    @staticmethod
    def _matches(r: dict[str, Any], q: dict[str, str]) -> bool:
        if "number" in q and str(r["number"]) != q["number"]:
            return False
        purpose = q.get("address_purpose")
        addrs = [a for a in r["addresses"] if not purpose or a["address_purpose"] == purpose]
        if "postal_code" in q and not any(
            a["postal_code"].startswith(q["postal_code"]) for a in addrs
        ):
            return False
        if "city" in q and not any(a["city"] == q["city"].upper() for a in addrs):
            return False
        # Loose, like the real registry: the text may match any of the provider's taxonomies.
        return not ("taxonomy_description" in q and q["taxonomy_description"].lower()
                    not in _all_descs(r))  # fmt: skip


@dataclass
class FakeCensus:
    """The batch geocoder: Match for known streets (or every street, near its ZIP's centroid)."""

    known: dict[str, tuple[float, float]] = field(default_factory=dict)  # "STREET|ZIP" -> lat,lon
    ties: set[str] = field(default_factory=set)
    match_by_zip: bool = True
    latency: float = 0.0
    mode: str = "ok"  # ok | status500 | html
    batches: list[int] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)
    fault: Misbehaviour = field(default_factory=Misbehaviour)
    posts: int = 0  # every request, answered or not

    @staticmethod
    def key(street: str, zip_code: str) -> str:
        return f"{street.strip().upper()}|{zip_code.strip()[:5]}"

    def handle(self, body: bytes, headers: Any) -> Answer:
        self.user_agents.append(headers.get("User-Agent", ""))
        self.posts += 1
        faulty = self.fault.before()
        if faulty is not None:
            return faulty
        return self.fault.after(self._handle(body, headers))

    def _handle(self, body: bytes, headers: Any) -> tuple[int, str, str]:
        if self.latency:
            time.sleep(self.latency)
        if self.mode == "status500":
            return 500, "text/plain", "error"
        if self.mode == "html":
            return 200, "text/html", MAINTENANCE_HTML
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + headers.get("Content-Type", "").encode() + b"\r\n\r\n" + body
        )
        csv_text, benchmark = "", ""
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "addressFile":
                csv_text = part.get_payload(decode=True).decode("utf-8")
            elif name == "benchmark":
                benchmark = part.get_content().strip()
        if benchmark != "Public_AR_Current" or not csv_text:
            return 400, "text/plain", "missing benchmark or addressFile"
        rows = list(csv.reader(io.StringIO(csv_text)))
        if len(rows) > 10_000:
            return 400, "text/plain", "more than 10,000 records"
        self.batches.append(len(rows))
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL)
        for row in rows:
            rid, street, city, state, zip_code = (row + [""] * 5)[:5]
            one_line = f"{street}, {city}, {state}, {zip_code}"
            k = self.key(street, zip_code)
            point = self.known.get(k)
            if k in self.ties:
                writer.writerow([rid, one_line, "Tie"])
                continue
            if point is None and self.match_by_zip:
                c = centroid(zip_code)
                if c is not None:
                    h = hashlib.sha256(k.encode()).digest()
                    point = (c.lat + (h[0] - 128) / 128 * 0.012, c.lon + (h[1] - 128) / 128 * 0.016)
            if point is None:
                writer.writerow([rid, one_line, "No_Match"])
                continue
            exact = "Exact" if h_exact(k) else "Non_Exact"
            writer.writerow(
                [rid, one_line, "Match", exact, one_line.upper(),
                 f"{point[1]:.6f},{point[0]:.6f}", "76355984", "L"]
            )  # fmt: skip
        # The real service answers without a header row, lines ending in \n.
        return 200, "text/csv", out.getvalue().replace("\r\n", "\n")


def h_exact(key: str) -> bool:
    return hashlib.sha256(key.encode()).digest()[2] % 5 != 0


@dataclass
class FakeNominatim:
    """Nominatim's /search with structured parameters: a place for known streets, else []."""

    known: dict[str, tuple[float, float]] = field(default_factory=dict)  # STREET -> lat, lon
    fault: Misbehaviour = field(default_factory=Misbehaviour)
    requests: list[dict[str, str]] = field(default_factory=list)
    user_agents: list[str] = field(default_factory=list)

    def handle(self, query: dict[str, str], headers: Any) -> Answer:
        self.requests.append(query)
        self.user_agents.append(headers.get("User-Agent", ""))
        faulty = self.fault.before()
        if faulty is not None:
            return faulty
        point = self.known.get(query.get("street", "").strip().upper())
        places = []
        if point is not None:
            places.append({
                "place_id": 1, "lat": f"{point[0]:.7f}", "lon": f"{point[1]:.7f}",
                "display_name": query.get("street", ""), "place_rank": 30,
                "class": "place", "type": "house",
            })  # fmt: skip
        return self.fault.after((200, "application/json", json.dumps(places)))


class FakeServices:
    """One 127.0.0.1 server answering the registry (/api/), the Census batch path and
    Nominatim (/nominatim/search)."""

    def __init__(
        self,
        npi: FakeNpiRegistry | None = None,
        census: FakeCensus | None = None,
        nominatim: FakeNominatim | None = None,
    ):
        self.npi = npi or FakeNpiRegistry()
        self.census = census or FakeCensus()
        self.nominatim = nominatim or FakeNominatim()
        services = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes; with Nagle on, a kept-alive
            # connection then waits ~40 ms for a delayed ACK on every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self, status: int, ctype: str, body: str, headers: dict[str, str] | None = None
            ) -> None:
                data = body.encode("utf-8")
                extra = dict(headers or {})
                cut = extra.pop(TRUNCATE_TRANSFER, None)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in extra.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if cut:
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                if url.path == NOMINATIM_PATH:
                    self._send(*services.nominatim.handle(query, self.headers))
                    return
                if url.path.rstrip("/") + "/" != NPI_PATH:
                    self._send(404, "text/plain", "not found")
                    return
                self._send(*services.npi.handle(query, self.headers))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if urlparse(self.path).path != CENSUS_PATH:
                    self._send(404, "text/plain", "not found")
                    return
                self._send(*services.census.handle(body, self.headers))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def npi_url(self) -> str:
        return self.base + NPI_PATH

    @property
    def nominatim_url(self) -> str:
        """Nominatim's base (geopy appends /search)."""
        return self.base + "/nominatim"

    @property
    def census_url(self) -> str:
        """The geocoder base (the client appends /locations/addressbatch)."""
        return self.base + "/geocoder"

    def env(self) -> dict[str, str]:
        """Settings that point the app at this server and switch Nominatim off."""
        return {
            "NPI_API_URL": self.npi_url,
            "CENSUS_GEOCODER_URL": self.census_url,
            "NOMINATIM_URL": "off",
        }

    def __enter__(self) -> FakeServices:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for fake in (self.npi, self.census, self.nominatim):
            fake.fault.unhang.set()  # let held requests go, so no thread outlives the test
        self.npi.release.set()
        self.server.shutdown()
        self.server.server_close()


DENVER_ZIPS = ("80206", "80218", "80203", "80205", "80209", "80220", "80210", "80202")
DENVER_CODES = ("207X00000X", "207Q00000X", "111N00000X", "208100000X", "213E00000X")


def denver_services(per_pair: int = 2) -> FakeServices:
    return FakeServices(FakeNpiRegistry(synthetic_area(DENVER_ZIPS, DENVER_CODES, per_pair)))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    fake = denver_services()
    if args.port:
        fake.server.server_close()
        fake.server = ThreadingHTTPServer(("127.0.0.1", args.port), fake.server.RequestHandlerClass)
        fake.thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    with fake:
        print(json.dumps(fake.env()), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
