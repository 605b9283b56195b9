"""Load: 20 staff sessions saving at once for 60 s, on PostgreSQL and on SQLite; nothing lost.

Each simulated session loops as fast as it can through the services layer, as the pages would
call it: 70 % referral edits (read a referral of a small, shared "hot" set, change its notes to
a token unique to this write, save with the version read, `referrals.save_changes`) and 30 %
stage changes (`partners.set_stage` on one of the practice's partners). The sessions are split
over two engines, as two app servers behind a load balancer would be.

Every write is classified when it returns:
- accepted: saved (an edit's result lists it as updated; a stage change moved);
- refused: the service reported it (a version conflict, a stage change dated before the last
  one) and wrote nothing;
- error: anything else (an exception, "database is locked"): must be 0.

Then the database is checked against the record: every accepted edit of a referral consumed
exactly one version (the version it read, no two accepted edits read the same one), the
referral's final notes are the token of the last accepted edit, no refused token is anywhere,
and the stage history holds exactly the accepted moves. Anything missing is a lost write.
When the audit trail exists, each accepted edit's token is in it too.

PostgreSQL: a throwaway cluster on a Unix socket (tests/pg_cluster.py), or `--pg-url` for a
local server (only localhost / a socket is accepted). SQLite: a temporary file, WAL mode, its
busy timeout from services/db_engine.py.

Usage: python benchmarks/bench_load.py [--seconds 60] [--sessions 20] [--db both|sqlite|postgresql]
Exit code 1 when a write is lost or an error escaped.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from services import db, demo  # noqa: E402
from services import partners as partner_svc  # noqa: E402
from services import referrals as refs  # noqa: E402
from services.playbook import STAGES  # noqa: E402

TODAY = date(2026, 11, 27)
HOT_REFERRALS = 12  # few enough that sessions collide and conflicts really happen
MAX_SESSIONS = 50
MAX_SECONDS = 600
LOCAL_HOSTS = {"", "localhost", "127.0.0.1", "::1"}


@dataclass
class SessionLog:
    latencies: list[float] = field(default_factory=list)
    # (referral id, version read, token) of accepted and of refused edits
    edits_ok: list[tuple[int, int, str]] = field(default_factory=list)
    edits_refused: list[tuple[int, int, str]] = field(default_factory=list)
    moves_ok: list[tuple[int, str]] = field(default_factory=list)
    moves_refused: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    database: str
    sessions: int
    seconds: float
    accepted: int
    refused: int
    errors: list[str]
    lost: list[str]
    p50_ms: float
    p95_ms: float
    max_ms: float

    @property
    def ok(self) -> bool:
        return not self.errors and not self.lost

    def line(self) -> str:
        return (
            f"{self.database:<10} {self.sessions} sessions x {self.seconds:.0f} s: "
            f"{self.accepted + self.refused} writes, {self.accepted} accepted, {self.refused} "
            f"refused, {len(self.lost)} lost, {len(self.errors)} errors; save latency p50 "
            f"{self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, max {self.max_ms:.1f} ms"
        )


def _check_local(url: str) -> None:
    u = sa.engine.make_url(url)
    if u.get_backend_name() != "sqlite" and (u.host or "") not in LOCAL_HOSTS:
        raise SystemExit(f"bench_load runs on this machine only, not on {u.host}")


def _session(
    engine: sa.Engine,
    practice_id: int,
    hot: list[int],
    partner_ids: list[int],
    deadline: float,
    seed: int,
    log: SessionLog,
) -> None:
    rng = random.Random(seed)
    r = db.referral
    n = 0
    while time.monotonic() < deadline:
        n += 1
        try:
            if rng.random() < 0.7:
                ref_id = rng.choice(hot)
                with engine.connect() as conn:
                    row = conn.execute(
                        sa.select(r.c.version, *(r.c[f] for f in refs.FIELDS)).where(
                            r.c.id == ref_id
                        )
                    ).one()
                values = {f: row._mapping[f] for f in refs.FIELDS}
                token = f"load s{seed}-{n}"
                values["notes"] = token
                edit = refs.Edit(("e", n), ref_id, int(row.version), values)
                t0 = time.perf_counter()
                result = refs.save_changes(engine, practice_id, edited=[edit], today=TODAY)
                log.latencies.append(time.perf_counter() - t0)
                record = (ref_id, int(row.version), token)
                if result.updated:
                    log.edits_ok.append(record)
                elif result.conflicts:
                    log.edits_refused.append(record)
                else:
                    log.errors.append(f"edit neither saved nor refused: {result.errors}")
            else:
                pid = rng.choice(partner_ids)
                stage = rng.choice(STAGES)
                t0 = time.perf_counter()
                try:
                    moved = partner_svc.set_stage(engine, practice_id, [pid], stage)
                except partner_svc.PartnerError:
                    log.latencies.append(time.perf_counter() - t0)
                    log.moves_refused += 1
                    continue
                log.latencies.append(time.perf_counter() - t0)
                if moved:
                    log.moves_ok.append((pid, stage))
        except Exception as exc:  # every escape is counted and reported
            cause = exc.__cause__ or exc
            log.errors.append(f"{type(exc).__name__}: {exc} ({type(cause).__name__}: {cause})")


def _verify(
    engine: sa.Engine, logs: list[SessionLog], start_versions: dict[int, int], history0: int
) -> list[str]:
    lost: list[str] = []
    ok = [e for log in logs for e in log.edits_ok]
    refused = [e for log in logs for e in log.edits_refused]
    r = db.referral
    with engine.connect() as conn:
        final = {
            row.id: (int(row.version), row.notes)
            for row in conn.execute(
                sa.select(r.c.id, r.c.version, r.c.notes).where(r.c.id.in_(start_versions))
            )
        }
        history = Counter(
            (row.partner_id, row.to_stage)
            for row in conn.execute(
                sa.select(
                    db.partner_stage_history.c.partner_id, db.partner_stage_history.c.to_stage
                ).where(db.partner_stage_history.c.id > history0)
            )
        )
        audit_after: set[str] = set()
        if "audit_log" in db.metadata.tables and sa.inspect(conn).has_table("audit_log"):
            a = db.metadata.tables["audit_log"]
            for after in conn.execute(
                sa.select(a.c["after"]).where(a.c.table_name == "referral", a.c.action == "update")
            ).scalars():
                notes = json.loads(after or "{}").get("notes")
                if notes:
                    audit_after.add(notes)
    for ref_id, v0 in start_versions.items():
        mine = sorted((v, token) for rid, v, token in ok if rid == ref_id)
        versions = [v for v, _ in mine]
        if versions != list(range(v0, v0 + len(mine))):
            lost.append(f"referral {ref_id}: accepted edits read versions {versions}, from {v0}")
        version, notes = final[ref_id]
        if version != v0 + len(mine):
            lost.append(f"referral {ref_id}: version {version}, expected {v0 + len(mine)}")
        if mine and notes != mine[-1][1]:
            lost.append(f"referral {ref_id}: notes {notes!r}, last accepted {mine[-1][1]!r}")
    finals = {notes for _, notes in final.values()}
    for ref_id, _v, token in refused:
        if token in finals or token in audit_after:
            lost.append(f"referral {ref_id}: refused write {token!r} was written")
    if audit_after:
        missing = [t for _r, _v, t in ok if t not in audit_after]
        if missing:
            lost.append(f"{len(missing)} accepted edits missing from the audit trail")
    moves = Counter(m for log in logs for m in log.moves_ok)
    if moves != history:
        lost.append(f"stage history {sum(history.values())} rows, accepted {sum(moves.values())}")
    return lost


def run_load(url: str, sessions: int = 20, seconds: float = 60, servers: int = 2) -> LoadResult:
    """Run the load against the (empty or demo) database at `url` and check it afterwards."""
    _check_local(url)
    sessions = max(1, min(sessions, MAX_SESSIONS))
    seconds = max(0.5, min(seconds, MAX_SECONDS))
    engines = [db.make_engine(url) for _ in range(servers)]
    try:
        demo.ensure_demo(engines[0], TODAY)
        with engines[0].connect() as conn:
            practice_id = conn.execute(
                sa.select(db.practice.c.id).where(db.practice.c.is_demo.is_(True))
            ).scalar_one()
            hot = list(
                conn.execute(
                    sa.select(db.referral.c.id)
                    .where(db.referral.c.practice_id == practice_id)
                    .order_by(db.referral.c.id)
                    .limit(HOT_REFERRALS)
                ).scalars()
            )
            start_versions = dict(
                conn.execute(
                    sa.select(db.referral.c.id, db.referral.c.version).where(
                        db.referral.c.id.in_(hot)
                    )
                ).all()
            )
            partner_ids = list(
                conn.execute(
                    sa.select(db.partner.c.id).where(db.partner.c.practice_id == practice_id)
                ).scalars()
            )
            history0 = (
                conn.execute(sa.select(sa.func.max(db.partner_stage_history.c.id))).scalar() or 0
            )
        logs = [SessionLog() for _ in range(sessions)]
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(
                target=_session,
                args=(engines[i % servers], practice_id, hot, partner_ids, deadline, i, logs[i]),
                daemon=True,
            )
            for i in range(sessions)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 120)
        elapsed = time.monotonic() - started
        errors = [e for log in logs for e in log.errors]
        if any(t.is_alive() for t in threads):
            errors.append("a session did not finish within two minutes of the deadline")
        lost = _verify(engines[0], logs, start_versions, history0)
    finally:
        for e in engines:
            e.dispose()
    lat = sorted(x for log in logs for x in log.latencies) or [0.0]
    accepted = sum(len(log.edits_ok) + len(log.moves_ok) for log in logs)
    refused = sum(len(log.edits_refused) + log.moves_refused for log in logs)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    return LoadResult(
        sa.engine.make_url(url).get_backend_name(), sessions, elapsed, accepted, refused,
        errors, lost, statistics.median(lat) * 1000, p95 * 1000, lat[-1] * 1000,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--db", choices=("both", "sqlite", "postgresql"), default="both")
    parser.add_argument("--pg-url", help="a local PostgreSQL database to use instead")
    args = parser.parse_args()
    results = []
    if args.db in ("both", "postgresql"):
        if args.pg_url:
            results.append(run_load(args.pg_url, args.sessions, args.seconds))
        else:
            from tests.pg_cluster import Cluster

            cluster = Cluster().start()
            try:
                results.append(run_load(cluster.create_database(), args.sessions, args.seconds))
            finally:
                cluster.stop()
    if args.db in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{Path(tmp) / 'load.db'}"
            results.append(run_load(url, args.sessions, args.seconds))
    for res in results:
        print(res.line())
        for problem in (res.errors + res.lost)[:10]:
            print("  ", problem)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
