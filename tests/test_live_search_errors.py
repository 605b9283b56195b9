"""The live search's worker thread: an unexpected failure is logged with its traceback, and the
page gets a plain sentence carrying the same reference as the log line."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from components import live_search


def test_a_failed_search_is_logged_with_its_traceback_and_shown_with_the_reference(caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("database is locked (sqlite3.OperationalError)")

    with caplog.at_level(logging.ERROR):
        job = live_search.start_job(
            None,
            SimpleNamespace(id=7),
            2.0,
            ["ortho"],
            False,
            run=broken,  # type: ignore[arg-type]
        )
        job.thread.join(10)
    assert job.done and job.result is None
    assert job.error.startswith("The search failed unexpectedly (reference ")
    assert "database is locked" not in job.error  # the library's words stay in the log
    ref = job.error.split("reference ")[1].split(":")[0]
    [record] = [r for r in caplog.records if ref in r.getMessage()]
    assert record.name == "components.live_search" and record.threadName == "area-search-7"
    assert record.exc_info and "database is locked" in str(record.exc_info[1])
