"""Running an area search's (ZIP, taxonomy text) queries against the registry concurrently.

A few requests at a time (polite to a public service), each with its own total deadline
(services/http_deadline.py). A text the registry does not know is asked once, not once per ZIP.
When the registry stops answering, the run ends with how many queries were done and keeps the
records that arrived; a Stop abandons the queries in flight at once instead of waiting for their
answers. Kept apart from the search's planning and storage because this is the only part that
deals with threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from services.http_deadline import Stopped
from services.npi_errors import RegistryError, RegistryQueryError, RegistryUnavailable
from services.npi_records import ProviderRecord
from services.npi_registry import RegistryClient, SearchResult

MAX_IN_FLIGHT = 4  # requests to the registry at once: polite to a public service

Progress = Callable[[int, int, str], None]


@dataclass
class QueryOutcome:
    """What the queries brought back, for the search to report."""

    records: list[ProviderRecord] | None = None  # None when stopped
    queries: int = 0  # queries done (those answered, when the registry went offline)
    offline: str | None = None  # the registry stopped answering: the message to show
    stopped: bool = False
    messages: list[str] = field(default_factory=list)


def run_queries(
    client: RegistryClient,
    pairs: list[tuple[str, str]],
    progress: Progress | None,
    should_stop: Callable[[], bool],
    max_workers: int,
) -> QueryOutcome:
    """Run the (ZIP, text) queries with at most `max_workers` in flight; the outcome's
    `records` are None if stopped.

    When the registry stops answering, `offline` says how far it got and the records that
    arrived are returned, so they are kept.

    Futures are collected in the calling thread, so the progress callback (a Streamlit widget)
    is never called from a worker thread. If the caller is interrupted (a Streamlit rerun
    raises inside `progress`), the `finally` cancels what has not started.
    """
    result = QueryOutcome()
    records: list[ProviderRecord] = []
    bad_texts: dict[str, str] = {}
    capped: list[str] = []
    cancel = threading.Event()

    def one(zip_code: str, text: str) -> SearchResult | None:
        # A text the registry does not know (error 14) fails for every ZIP: ask once.
        if cancel.is_set() or text in bad_texts:
            return None
        return client.search_all(
            should_stop=cancel.is_set,
            postal_code=zip_code,
            taxonomy_description=text,
            address_purpose="LOCATION",
        )

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_workers, MAX_IN_FLIGHT)))
    try:
        futures: dict[Future, tuple[str, str]] = {pool.submit(one, z, t): (z, t) for z, t in pairs}
        pending = set(futures)
        done_count = 0
        answered = 0  # queries the registry answered (an unknown text counts: it was asked)
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for fut in done:
                zip_code, text = futures[fut]
                done_count += 1
                try:
                    out = fut.result()
                except Stopped:
                    continue
                except RegistryQueryError as exc:
                    answered += 1
                    bad_texts.setdefault(text, str(exc))
                    continue
                except RegistryUnavailable as exc:
                    # The registry is down or hung (each query already had its own deadline
                    # and retries): end here, and keep what arrived.
                    result.offline = (
                        f"The NPI Registry is not answering: {answered:,} of {len(pairs):,} "
                        f"queries are done ({exc.reason}). Try again later."
                    )
                    cancel.set()
                    result.queries = answered
                    result.records = records
                    return result
                except RegistryError as exc:
                    result.messages.append(str(exc))
                    continue
                if out is None:
                    continue
                answered += 1
                records.extend(out.records)
                if out.capped:
                    capped.append(f"{text} in {zip_code}")
            if progress:
                progress(done_count, len(pairs), "registry")
            if should_stop():
                result.stopped = True
                cancel.set()
                return result
    finally:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)
    result.queries = len(pairs)
    for text, message in bad_texts.items():
        result.messages.append(f"Skipped the specialty text “{text}”: {message}")
    if capped:
        result.messages.append(
            "The registry returns at most 1,200 providers per query; these were cut short: "
            + "; ".join(capped[:5])
            + (" …" if len(capped) > 5 else "")
        )
    result.records = records
    return result
