"""Referrers: everyone a referral can name, and adding one the provider list lacks.

A referrer known by NPI but missing from the provider table is added to it with
`data_source = 'manual'` (no coordinates, so it never appears on the map). A referrer known only
by name becomes a `named_referrer` of the practice, keyed `R` + 9 digits in `partner_npi`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services import db
from services.exports import looks_like_formula
from services.npi import npi_error
from services.referrals.cells import ReferralError, named_key


def referrer_directory(engine: Engine, practice_id: int, scope_demo: bool) -> pd.DataFrame:
    """Everyone who can be named as a referral's partner: key, name, label, partner id, stage.

    Partners come first, then the providers the practice can see (demo or real, never both),
    then manual providers and named referrers already used by this practice.
    """
    p, v, r, n = db.partner, db.provider, db.referral, db.named_referrer
    scope = v.c.data_source == "demo" if scope_demo else v.c.data_source != "demo"
    used = sa.select(r.c.partner_npi).where(r.c.practice_id == practice_id)
    with engine.connect() as conn:
        partner_rows = conn.execute(
            sa.select(p.c.npi, p.c.id, p.c.stage).where(p.c.practice_id == practice_id)
        ).all()
        on_list = {row[0]: (row[1], row[2]) for row in partner_rows}
        providers = conn.execute(
            sa.select(v.c.npi, v.c.name, v.c.credential).where(
                # Manual providers were typed in by staff for this log, so they are listed
                # for every practice: one just added must be pickable before its first use.
                sa.or_(
                    scope,
                    v.c.data_source == "manual",
                    v.c.npi.in_(used),
                    v.c.npi.in_(list(on_list)),
                )
            )
        ).all()
        named = conn.execute(
            sa.select(n.c.id, n.c.name).where(n.c.practice_id == practice_id).order_by(n.c.name)
        ).all()
    rows = []
    for npi, name, credential in providers:
        display = f"{name}, {credential}" if credential else name
        pid, stage = on_list.get(npi, (None, None))
        rows.append((npi, display, f"{display} · {npi}", pid, stage))
    for rid, name in named:
        rows.append((named_key(rid), name, f"{name} · no NPI", None, None))
    df = pd.DataFrame(rows, columns=["key", "name", "label", "partner_id", "stage"])
    df["is_partner"] = df["partner_id"].notna()
    df = df.sort_values(["is_partner", "name"], ascending=[False, True], kind="stable")
    return df.reset_index(drop=True)


# --- adding referrers ------------------------------------------------------------------------


def add_referrer(
    engine: Engine | Connection, practice_id: int, npi: str | None = None, name: str | None = None
) -> str:
    """Make an unknown referrer pickable; return its key for `partner_npi`.

    With an NPI (check digit validated), a provider row is added if the NPI is new (name
    required then, since there is nothing else to show). With only a name, the practice's
    named referrer of that name is reused or created.
    """
    npi = (npi or "").strip() or None
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > 200:
        raise ReferralError("name: at most 200 characters")
    if name is not None and looks_like_formula(name):
        # A spreadsheet would run it once the name reaches an export, a letter or a list.
        raise ReferralError(
            "name: it starts like a spreadsheet formula (=, +, - or @); type the name without it"
        )
    if npi is None and name is None:
        raise ReferralError("Give the referrer's NPI, or their name if the NPI is not known.")
    if isinstance(engine, Connection):
        return _add_referrer(engine, practice_id, npi, name)
    with engine.begin() as conn:
        return _add_referrer(conn, practice_id, npi, name)


def _add_referrer(conn: Connection, practice_id: int, npi: str | None, name: str | None) -> str:
    if npi is not None:
        if problem := npi_error(npi):
            raise ReferralError(f"NPI {npi}: {problem}")
        exists = conn.execute(sa.select(db.provider.c.npi).where(db.provider.c.npi == npi)).first()
        if exists is None:
            if name is None:
                raise ReferralError(
                    f"NPI {npi} is not among the known providers: give a name to add it."
                )
            conn.execute(
                db.provider.insert().values(
                    npi=npi,
                    entity_type="individual",
                    name=name,
                    data_source="manual",
                    first_seen=date.today(),
                    last_seen=date.today(),
                )
            )
        return npi
    assert name is not None
    n = db.named_referrer
    found = conn.execute(
        sa.select(n.c.id).where(
            n.c.practice_id == practice_id, sa.func.lower(n.c.name) == name.lower()
        )
    ).scalar()
    if found is None:
        found = conn.execute(
            n.insert().values(practice_id=practice_id, name=name, created_at=db.utcnow())
        ).inserted_primary_key[0]
    return named_key(int(found))


def export_frame(referrals: pd.DataFrame, labels: Mapping[str, str]) -> pd.DataFrame:
    """The log as people read it: partner names next to keys, no internal columns."""
    out = referrals.copy()
    out.insert(2, "partner", out["partner_npi"].map(lambda k: labels.get(k, k)))
    out = out.rename(columns={"partner_npi": "partner_key", "id": "referral_id"})
    return out.drop(columns=["version"])
