"""Providers around a practice: load, filter by radius and specialty, rank by score.

`load_providers` reads the practice's provider universe once (cached by the page); everything
after it (`providers_near`) is a pure function of frames, so the map page's rerun is a filter
over arrays, not a database round trip.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles import signals
from services.geo import within_radius
from services.partners import list_partners
from services.practices import Practice
from services.scoring import score_frame
from services.specialties import group_label, specialty_label

PROVIDER_COLUMNS = [
    "npi", "name", "credential", "entity_type", "primary_taxonomy", "specialty_group",
    "address", "city", "state", "zip", "phone", "lat", "lon", "geocode_precision",
    "data_source", "first_seen",
]  # fmt: skip


def _scope(practice: Practice) -> sa.ColumnElement[bool]:
    """Demo data never mixes with a real practice's."""
    if practice.is_demo:
        return db.provider.c.data_source == "demo"
    return db.provider.c.data_source != "demo"


def load_providers(engine: Engine, practice: Practice) -> pd.DataFrame:
    """Every geocoded provider a practice can see, with display labels precomputed and the
    imported data-file signals joined (NaN where there are none)."""
    cols = [db.provider.c[c] for c in PROVIDER_COLUMNS]
    query = sa.select(*cols).where(
        _scope(practice), db.provider.c.lat.is_not(None), db.provider.c.lon.is_not(None)
    )
    with engine.connect() as conn:
        df = pd.DataFrame(conn.execute(query).all(), columns=PROVIDER_COLUMNS)
    df["lat"] = df["lat"].astype(float)
    df["lon"] = df["lon"].astype(float)
    df["group_label"] = df["specialty_group"].map(group_label)
    df["specialty"] = df["primary_taxonomy"].map(specialty_label)
    df["display_name"] = np.where(
        df["credential"].fillna("") != "",
        df["name"] + ", " + df["credential"].fillna(""),
        df["name"],
    )
    # Imported data files (Medicare volumes, procedures, shared patients): the score's signals.
    return signals.attach(df, signals.signal_frame(engine, practice))


def partner_status(engine: Engine, practice_id: int, today: date | None = None) -> pd.DataFrame:
    """npi → partner id, stage and whether the partnership is active (from the referral log);
    the map's view of `partners.list_partners`, so both count "active" the same way."""
    partners = list_partners(engine, practice_id, today)
    return partners[["npi", "partner_id", "stage", "last_referral", "active"]]


def providers_near(
    providers: pd.DataFrame,
    partners: pd.DataFrame,
    lat: float,
    lon: float,
    radius_mi: float,
    groups: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Providers within the radius (and groups), with distance, stage and score; best first."""
    frame = providers
    if groups is not None:
        frame = frame[frame["specialty_group"].isin(list(groups))]
    idx, dist = within_radius(lat, lon, frame["lat"].to_numpy(), frame["lon"].to_numpy(), radius_mi)
    near = frame.iloc[idx].copy()
    near["distance_mi"] = dist
    status = partners.set_index("npi")[["partner_id", "stage", "active"]]
    near = near.join(status, on="npi")
    near["on_list"] = near["partner_id"].notna()
    near["active"] = near["active"].astype("boolean").fillna(False).astype(bool)
    near["score"] = score_frame(near, radius_mi)
    return near.sort_values(
        ["score", "distance_mi"], ascending=[False, True], na_position="last"
    ).reset_index(drop=True)
