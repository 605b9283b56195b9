"""The load benchmark's invariant, in a short run: 20 sessions saving at once for 3 s lose
nothing and let no error (such as SQLite's "database is locked") escape. Runs on the suite's
database, so both SQLite and PostgreSQL are checked by `make test`."""

from __future__ import annotations

from benchmarks.bench_load import run_load


def test_twenty_concurrent_sessions_lose_no_write_and_leak_no_error(db_url):
    result = run_load(db_url, sessions=20, seconds=3)
    assert result.errors == []
    assert result.lost == []
    assert result.accepted > 0  # the sessions really wrote
    assert result.sessions == 20 and result.seconds >= 3
