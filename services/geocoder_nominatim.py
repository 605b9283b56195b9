"""The Nominatim geocoder client (through geopy), held to one request per second for the app.

Why separate: Nominatim's usage policy (one request per second per application, no bulk use)
shapes everything here: one shared rate limiter per domain for the whole process, retries only
inside a 10 s deadline per call (a 429's Retry-After included), and answers coarser than a
street turned away because the ZIP centroid is as good.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from geopy.exc import (
    GeocoderParseError,
    GeocoderRateLimited,
    GeocoderTimedOut,
    GeocoderUnavailable,
    GeopyError,
)

from services.geocode_types import Address, GeocodeResult, GeocodingUnavailable
from services.http_deadline import (
    Deadline,
    ServiceFailure,
    StopCheck,
    call_within,
    deadline_seconds,
    pause,
)
from services.npi_registry import user_agent
from services.zipcentroids import zip5

DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"

logger = logging.getLogger(__name__)


_limiters: dict[str, Any] = {}
_limiters_lock = threading.Lock()


def _shared_rate_limited(geocoder: Any, domain: str) -> Callable[..., Any]:
    """One RateLimiter per domain for the whole process: Nominatim's policy is 1 request/s
    per application, not per session or per thread."""
    from geopy.extra.rate_limiter import RateLimiter

    with _limiters_lock:
        if domain not in _limiters:
            _limiters[domain] = RateLimiter(
                geocoder.geocode,
                min_delay_seconds=1.0,
                max_retries=0,  # retries happen in NominatimGeocoder, inside its deadline
                error_wait_seconds=1.0,
                swallow_exceptions=False,  # report failures instead of returning None
            )
        return _limiters[domain]


class NominatimGeocoder:
    """Nominatim through geopy, rate-limited, each call within `deadline` seconds (at most 10,
    a 429's Retry-After included); `geocode_fn` lets tests pass a stub geocoder."""

    def __init__(
        self,
        url: str | None = None,
        geocode_fn: Callable[..., Any] | None = None,
        *,
        deadline: float | None = None,
    ):
        self.deadline = deadline_seconds("nominatim") if deadline is None else deadline
        self._pass_timeout = geocode_fn is None  # geopy takes a per-call timeout; stubs need not
        if geocode_fn is not None:
            self._geocode = geocode_fn
            return
        from geopy.adapters import RequestsAdapter
        from geopy.geocoders import Nominatim

        def adapter(**kwargs: Any) -> RequestsAdapter:
            # geopy's default retries would sleep out a 429's Retry-After (minutes, maybe)
            # inside one call; retries happen in `_call` instead, within the deadline.
            return RequestsAdapter(max_retries=0, **kwargs)

        parsed = urlparse(url or DEFAULT_NOMINATIM_URL)
        domain = parsed.netloc + parsed.path.rstrip("/")
        geocoder = Nominatim(
            user_agent=user_agent(), domain=domain, scheme=parsed.scheme or "https",
            timeout=self.deadline, adapter_factory=adapter,
        )  # fmt: skip
        self._geocode = _shared_rate_limited(geocoder, domain)

    def _call(self, query: dict[str, str], clock: Deadline, should_stop: StopCheck | None) -> Any:
        """One geopy call within the deadline; a 429 is retried only if its wait fits."""
        while True:
            kwargs: dict[str, Any] = {"exactly_one": True}
            if self._pass_timeout:
                kwargs["timeout"] = max(0.1, clock.remaining())
            try:
                return call_within(lambda kw=kwargs: self._geocode(query, **kw), clock, should_stop)
            except GeocoderRateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else 1.0
                if wait >= clock.remaining():
                    raise
                logger.warning("Nominatim asked to wait %.1f s (HTTP 429); waiting.", wait)
                pause(wait, should_stop)

    def geocode(self, a: Address, should_stop: StopCheck | None = None) -> GeocodeResult | None:
        query = {"street": a.street or "", "city": a.city or "", "state": a.state or "",
                 "postalcode": zip5(a.zip) or "", "country": "US"}  # fmt: skip
        clock = Deadline(self.deadline)
        try:
            loc = self._call({k: v for k, v in query.items() if v}, clock, should_stop)
        except ServiceFailure as exc:  # our own deadline passed
            logger.warning("Nominatim: %s", exc.detail)
            raise GeocodingUnavailable("Nominatim did not answer in time.") from exc
        except GeopyError as exc:
            logger.warning("Nominatim failed: %s: %s", type(exc).__name__, exc)
            raise GeocodingUnavailable(_nominatim_message(exc)) from exc
        if loc is None:
            return None
        raw = getattr(loc, "raw", {}) or {}
        try:
            rank = int(raw.get("place_rank", 30))
        except (TypeError, ValueError):
            rank = 30
        if rank < 26:  # a town or a postcode area: no better than the ZIP centroid
            return None
        precision = "address" if rank >= 30 else "street"
        return GeocodeResult(float(loc.latitude), float(loc.longitude), "nominatim", precision)


def _nominatim_message(exc: GeopyError) -> str:
    """geopy's error in the app's words (its own text, with URLs and socket detail, is logged)."""
    if isinstance(exc, GeocoderRateLimited):
        return "Nominatim asked us to slow down."
    if isinstance(exc, GeocoderTimedOut):
        return "Nominatim did not answer in time."
    if isinstance(exc, GeocoderUnavailable):
        return "Nominatim could not be reached."
    if isinstance(exc, GeocoderParseError):
        return "Nominatim's answer could not be read."
    return "Nominatim could not geocode this address."
