"""Progress page, server side, on two years of a 5-location group.

Data: 5 practices, 500 partners (with stage history), 50,000 referrals and 5,000 activities
over the last 730 days, in a temporary SQLite database. The page runs under AppTest with the
real app.py around it, showing the group total (the heaviest view: every location at once).

Figures:
- first render (cold process: imports, demo seed, first load) — reported;
- cold page render (the app's code loaded, every cache empty: the data read from SQLite,
  every metric and figure computed and drawn) — bound ≤ 2 s;
- warm rerun (same inputs; what a slide change or a widget click costs) — bound ≤ 0.3 s;
- new date range (process and data cache warm, metrics and figures recomputed) — bound ≤ 1 s;
- after a new referral is logged (data reloaded from SQLite as well) — reported.
Exit code 1 when a bound is missed. Figures taken while other work loads the machine run slow.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import db  # noqa: E402
from services.npi import make_npi  # noqa: E402
from services.specialties import GROUPS  # noqa: E402

LOCATIONS, PARTNERS, REFERRALS, ACTIVITIES, DAYS = 5, 500, 50_000, 5_000, 730
BOUND_S = 1.0
COLD_BOUND_S = 2.0
WARM_BOUND_S = 0.3
REPEATS = 7


def generate(url: str, today: date, seed: int = 6) -> None:
    rng = random.Random(seed)
    engine = db.make_engine(url)
    first_day = today - timedelta(days=DAYS - 1)
    with engine.begin() as conn:
        practice_ids = [
            conn.execute(
                db.practice.insert().values(
                    name=f"Front Range PT — site {i + 1}", is_demo=False,
                    playbook_start=first_day + timedelta(days=40 * i),
                    revenue_per_visit=95.0 + 5 * i,
                )
            ).inserted_primary_key[0]
            for i in range(LOCATIONS)
        ]  # fmt: skip
        groups = [g.key for g in GROUPS]
        providers = [
            {"npi": make_npi(f"98{i:07d}"), "entity_type": "individual",
             "name": f"Provider {i:03d}", "specialty_group": groups[i % len(groups)],
             "data_source": "manual"}
            for i in range(PARTNERS)
        ]  # fmt: skip
        conn.execute(db.provider.insert(), providers)
        partner_rows = []
        for i, prov in enumerate(providers):
            pid = practice_ids[i % LOCATIONS]
            added = first_day + timedelta(days=rng.randint(0, DAYS // 2))
            partner_rows.append({"practice_id": pid, "npi": prov["npi"], "stage": "target",
                                 "added_at": datetime.combine(added, dtime(9))})  # fmt: skip
        conn.execute(db.partner.insert(), partner_rows)
        partners = conn.execute(
            db.partner.select().with_only_columns(
                db.partner.c.id, db.partner.c.practice_id, db.partner.c.npi, db.partner.c.added_at
            )
        ).all()
        history = []
        for p in partners:
            when = p.added_at
            history.append({"partner_id": p.id, "from_stage": None, "to_stage": "target",
                            "changed_at": when})  # fmt: skip
            prev = "target"
            for stage in ("contacted", "connected", "formal"):
                if rng.random() < 0.35:
                    break
                when = when + timedelta(days=rng.randint(5, 40))
                history.append({"partner_id": p.id, "from_stage": prev, "to_stage": stage,
                                "changed_at": when})  # fmt: skip
                prev = stage
        conn.execute(db.partner_stage_history.insert(), history)
        statuses = ("received", "scheduled", "evaluated", "in_care", "discharged", "lost")
        referrals = []
        for _ in range(REFERRALS):
            p = partners[rng.randrange(len(partners))]
            status = rng.choice(statuses)
            referrals.append({
                "practice_id": p.practice_id, "partner_npi": p.npi,
                "direction": "sent" if rng.random() < 0.2 else "received",
                "referral_date": first_day + timedelta(days=rng.randrange(DAYS)),
                "status": status,
                "lost_reason": rng.choice(("no_show", "declined", "went_elsewhere"))
                if status == "lost" else None,
                "visits": rng.randint(1, 12) if status in ("evaluated", "in_care", "discharged")
                else None,
            })  # fmt: skip
        conn.execute(db.referral.insert(), referrals)
        kinds = ("visit", "visit", "lunch", "call", "intro_email", "letter", "event")
        conn.execute(
            db.activity.insert(),
            [
                {"practice_id": (p := partners[rng.randrange(len(partners))]).practice_id,
                 "partner_id": p.id, "kind": rng.choice(kinds),
                 "activity_date": first_day + timedelta(days=rng.randrange(DAYS))}
                for _ in range(ACTIVITIES)
            ],
        )  # fmt: skip
    engine.dispose()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    today = date.today()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t = time.perf_counter()
        generate(url, today)
        print(f"generated {LOCATIONS} locations, {PARTNERS} partners, {REFERRALS:,} referrals, "
              f"{ACTIVITIES:,} activities in {time.perf_counter() - t:.1f} s")  # fmt: skip
        os.environ["REFERRAL_ATLAS_DB_URL"] = url
        from streamlit.testing.v1 import AppTest

        from tests.conftest import _use_navigation_pages_manager

        _use_navigation_pages_manager()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)

        def first() -> None:
            at.run()
            at.switch_page("pages/progress.py").run()
            at.selectbox(key="_w_progress_scope").select(0).run()  # the group total

        cold = timed(first)
        assert not at.exception, at.exception
        title = [c for c in at.get("plotly_chart")]
        assert len(title) == 6, "the page did not draw its six charts"
        assert at.dataframe[0].value["location"].iloc[-1] == f"Total ({LOCATIONS} locations)"
        print(f"first render (cold process, group total): {cold:.2f} s")

        import streamlit as st

        def cold_render() -> None:
            st.cache_resource.clear()
            at.run()

        colds = [timed(cold_render) for _ in range(3)]
        assert not at.exception, at.exception
        warm = [timed(at.run) for _ in range(REPEATS)]
        assert not at.exception, at.exception
        ranges = []
        for i in range(REPEATS):
            chosen = (today - timedelta(days=300 + 7 * i), today - timedelta(days=i))
            ranges.append(timed(lambda c=chosen: at.date_input(key="_w_progress_range")
                                .set_value(c).run()))  # fmt: skip
            assert not at.exception, at.exception
        engine = db.make_engine(url)
        changed = []
        for i in range(3):
            with engine.begin() as conn:
                conn.execute(db.referral.insert().values(
                    practice_id=1, partner_npi=make_npi("980000000"), direction="received",
                    referral_date=today - timedelta(days=i), status="received"))  # fmt: skip
            changed.append(timed(at.run))
        engine.dispose()

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.3f} s, max {max(xs):.3f} s (n={len(xs)})"

    print(f"cold page render (caches empty):    {fmt(colds)}")
    print(f"warm rerun, same inputs:            {fmt(warm)}")
    print(f"warm, new date range (recomputed):  {fmt(ranges)}")
    print(f"after a new referral (reloaded):    {fmt(changed)}")
    checks = [
        ("cold page render", statistics.median(colds), COLD_BOUND_S),
        ("warm rerun", statistics.median(warm), WARM_BOUND_S),
        ("new date range", statistics.median(ranges), BOUND_S),
    ]
    for name, got, bound in checks:
        print(f"bound: median {name} ≤ {bound:.1f} s — {'met' if got <= bound else 'MISSED'}")
    return 0 if all(got <= bound for _name, got, bound in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
