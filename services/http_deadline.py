"""Calls to outside services with a total deadline across their retries, and a way to stop them.

Why not only urllib3's `Retry`: its timeouts are per attempt, so a hung service costs the read
timeout once per try (a 20 s read timeout tried four times held a search for 83 s). Here each
request gets one deadline for everything (connecting, every retry, every backoff, a 429's
Retry-After), and each attempt runs in a short-lived worker thread that the caller stops
waiting for when the deadline passes or the user presses Stop. An abandoned attempt ends on its
own: its socket timeouts are never longer than the time that was left.

The limits are fixed by the app (`MAX_SECONDS`); a setting may lower them (tests do), never
raise them: `NPI_API_DEADLINE`, `CENSUS_GEOCODER_DEADLINE`, `NOMINATIM_DEADLINE`, in seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import requests
import urllib3
from urllib3.util.retry import Retry

from services import config

logger = logging.getLogger(__name__)

T = TypeVar("T")
StopCheck = Callable[[], bool]

#: The longest one request to each service may take, retries included (seconds).
MAX_SECONDS = {"npi": 30.0, "census": 30.0, "nominatim": 10.0}
SETTING_NAMES = {
    "npi": "NPI_API_DEADLINE",
    "census": "CENSUS_GEOCODER_DEADLINE",
    "nominatim": "NOMINATIM_DEADLINE",
}
RETRY_STATUSES = frozenset({500, 502, 503, 504})
_POLL = 0.05  # how often a waiting caller looks at its Stop flag

Kind = Literal["timeout", "unreachable", "busy", "truncated"]


def deadline_seconds(service: str) -> float:
    """The service's deadline: its setting when that is a smaller positive number, else the max."""
    limit = MAX_SECONDS[service]
    raw = config.setting(SETTING_NAMES[service])
    try:
        value = float(raw) if raw else limit
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; using %s.", SETTING_NAMES[service],
                       raw, limit)  # fmt: skip
        return limit
    return min(limit, value) if value > 0 else limit


class Deadline:
    """A point in (monotonic) time after which a request is given up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.monotonic()
        self.end = self.started + seconds

    def remaining(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0.0


class Stopped(Exception):
    """The user asked to stop: the request was abandoned, nothing from it is used."""


class ServiceFailure(Exception):
    """A service did not give a usable answer within the deadline. `kind` says how it failed;
    `detail` is the library's own text, for the log only."""

    def __init__(self, kind: Kind, detail: str, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


def call_within(fn: Callable[[], T], deadline: Deadline, should_stop: StopCheck | None = None) -> T:
    """`fn()`, run in a daemon thread; its result or its exception.

    Raises ServiceFailure("timeout") once the deadline has passed and Stopped as soon as
    `should_stop()` is true, without waiting for `fn` (which must bound itself, e.g. with a
    socket timeout no longer than the deadline's remaining time).
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc
        finally:
            done.set()

    worker = threading.Thread(target=run, name="outside-call", daemon=True)
    worker.start()
    while not done.wait(min(_POLL, max(deadline.remaining(), 0.001))):
        if should_stop is not None and should_stop():
            raise Stopped()
        if deadline.expired:
            raise ServiceFailure("timeout", f"no answer within {deadline.seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def pause(seconds: float, should_stop: StopCheck | None = None) -> None:
    """Sleep, but wake up for a Stop."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if should_stop is not None and should_stop():
            raise Stopped()
        time.sleep(min(_POLL, left))


def retry_after(headers: Any) -> float | None:
    """A Retry-After header in seconds (both of its forms), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, Retry().parse_retry_after(str(value)))
    except urllib3.exceptions.InvalidHeader:
        return None


def is_timeout(exc: BaseException) -> bool:
    """True for a timeout, also when urllib3's retries wrapped it into a ConnectionError."""
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    if isinstance(reason, urllib3.exceptions.NewConnectionError):
        return False  # urllib3 files a refused connection under connect timeouts
    if isinstance(exc, requests.ConnectTimeout | requests.ReadTimeout):
        return True
    return isinstance(reason, urllib3.exceptions.TimeoutError)


def classify(exc: requests.RequestException) -> Kind:
    if is_timeout(exc):
        return "timeout"
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return "truncated"  # the connection closed before the whole answer arrived
    return "unreachable"


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    service: str,
    deadline: float,
    timeout: tuple[float, float] = (5.0, 20.0),
    retries: int = 3,
    backoff: float = 0.5,
    should_stop: StopCheck | None = None,
    **kwargs: Any,
) -> requests.Response:
    """One request with `retries` more tries on 5xx, 429 and dropped connections, all within
    `deadline` seconds. Backoff doubles from `backoff`; a 429's Retry-After is honoured only
    when it fits in the time left. Returns the last response (the caller checks its status);
    raises ServiceFailure when no response came, or a 429 asks for more time than is left."""
    clock = Deadline(deadline)
    attempt = 0
    while True:
        left = clock.remaining()
        if left <= 0:
            raise ServiceFailure("timeout", f"no answer within {deadline:g} s")
        per_try = (min(timeout[0], left), min(timeout[1], left))
        failure: ServiceFailure | None = None
        wait = backoff * (2**attempt)
        try:
            resp = call_within(
                lambda t=per_try: session.request(method, url, timeout=t, **kwargs),  # type: ignore[misc]
                clock,
                should_stop,
            )
        except requests.RequestException as exc:
            failure = ServiceFailure(classify(exc), f"{type(exc).__name__}: {exc}")
        else:
            if resp.status_code == 429:
                asked = retry_after(resp.headers)
                failure = ServiceFailure("busy", "HTTP 429", asked)
                if asked is not None:
                    wait = asked
            elif resp.status_code in RETRY_STATUSES and attempt < retries:
                asked = retry_after(resp.headers)
                wait = asked if asked is not None else wait
                if wait >= clock.remaining():
                    return resp
                logger.warning("%s answered HTTP %s (try %d); retrying in %.1f s.", service,
                               resp.status_code, attempt + 1, wait)  # fmt: skip
                pause(wait, should_stop)
                attempt += 1
                continue
            else:
                return resp
        logger.warning("%s: try %d failed (%s).", service, attempt + 1, failure.detail)
        if attempt >= retries or wait >= clock.remaining():
            if failure.kind == "busy" and failure.retry_after is None:
                failure.retry_after = wait
            raise failure
        pause(wait, should_stop)
        attempt += 1
