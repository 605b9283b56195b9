"""What the imported data files say about each provider, read back for the map, the score and
the provider card.

`signal_frame` gives one row per NPI with a signal (the map joins it to its providers and the
score reads `tot_benes`, `pt_procedures` and `shared_label`). `provider_signals` gives one
provider's figures in words for the card, and `sources` names each signal's dataset and year,
so the score's explanation says where each part comes from.

Shared patients, for one provider X: the pairs X → Y where Y is the practice itself ("you") or
a PT competitor near it (a stored provider in the physical-therapy group within the largest map
radius). Share = patients shared with you / (with you + with competitors); its label is the
referral-intelligence wording of `services.metrics.loyalty_label` (loyalist ≥ 50%, splitter,
opportunity = none with you). A provider with no pair to any PT near you has no label ("no
data"), not "opportunity".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import db
from services.datafiles.procedures import procedure_label
from services.datafiles.shared_patients import SOURCE_LABELS
from services.geo import RADIUS_MAX_MI, within_radius
from services.metrics import loyalty_label
from services.practices import Practice

SIGNAL_COLUMNS = [
    "npi", "tot_benes", "tot_srvcs", "medicare_type", "pt_procedures", "shared_you",
    "shared_competitors", "competitor_count", "shared_share", "shared_label",
]  # fmt: skip
CMS_SHARED_LAST_YEAR = 2015


@dataclass
class ProviderSignals:
    """One provider's data-file figures, for the card (None = no data)."""

    tot_benes: int | None = None
    tot_srvcs: float | None = None
    medicare_type: str | None = None
    volume_year: int | None = None
    procedures: list[tuple[str, float]] = field(default_factory=list)  # (label, count)
    pt_procedures: float | None = None
    procedures_year: int | None = None
    shared_you: int | None = None
    shared_competitors: list[tuple[str, int]] = field(default_factory=list)  # (name, patients)
    shared_label: str | None = None
    shared_year: int | None = None
    shared_source: str | None = None


def _competitors(engine: Engine, practice: Practice) -> pd.DataFrame:
    """PT competitors near the practice: npi, name (its own NPI excluded)."""
    t = db.provider
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.npi, t.c.name, t.c.lat, t.c.lon).where(
                _scope(practice), t.c.specialty_group == "pt", t.c.lat.is_not(None)
            )
        ).all()
    frame = pd.DataFrame(rows, columns=["npi", "name", "lat", "lon"])
    if frame.empty or practice.lat is None or practice.lon is None:
        return frame[["npi", "name"]]
    idx, _ = within_radius(
        practice.lat, practice.lon, frame["lat"].to_numpy(float), frame["lon"].to_numpy(float),
        RADIUS_MAX_MI,
    )  # fmt: skip
    near = frame.iloc[idx][["npi", "name"]]
    return near[near["npi"] != (practice.npi or "")]


def _pairs_to(engine: Engine, targets: list[str]) -> pd.DataFrame:
    t = db.shared_patient_pair
    out = []
    with engine.connect() as conn:
        for i in range(0, len(targets), 500):
            out.extend(
                conn.execute(
                    sa.select(t.c.npi_from, t.c.npi_to, t.c.patient_count).where(
                        t.c.npi_to.in_(targets[i : i + 500])
                    )
                ).all()
            )
    return pd.DataFrame(out, columns=["npi_from", "npi_to", "patients"])


def shared_summary(engine: Engine, practice: Practice) -> pd.DataFrame:
    """Per provider with pairs to you or a PT competitor: patients shared with you, with
    competitors, how many competitors, the share that is yours and its label."""
    cols = ["npi", "shared_you", "shared_competitors", "competitor_count", "shared_share",
            "shared_label"]  # fmt: skip
    comps = _competitors(engine, practice)
    targets = sorted(set(comps["npi"]) | ({practice.npi} if practice.npi else set()))
    if not targets:
        return pd.DataFrame(columns=cols)
    pairs = _pairs_to(engine, targets)
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    pairs["patients"] = pd.to_numeric(pairs["patients"], errors="coerce").fillna(0)
    pairs["you"] = pairs["npi_to"] == (practice.npi or "")
    pairs = pairs[pairs["npi_from"] != pairs["npi_to"]]
    you = pairs[pairs["you"]].groupby("npi_from")["patients"].sum()
    comp = (
        pairs[~pairs["you"]]
        .groupby("npi_from")
        .agg(shared_competitors=("patients", "sum"), competitor_count=("npi_to", "nunique"))
    )
    out = comp.join(you.rename("shared_you"), how="outer").fillna(0)
    total = out["shared_you"] + out["shared_competitors"]
    out["shared_share"] = np.where(total > 0, out["shared_you"] / total.where(total > 0, 1), np.nan)
    out["shared_label"] = [
        loyalty_label(share) if both > 0 else None
        for share, both in zip(out["shared_share"], total, strict=True)
    ]
    out = out.reset_index().rename(columns={"npi_from": "npi"})
    return out[cols]


def _scope(practice: Practice) -> sa.ColumnElement[bool]:
    t = db.provider
    return t.c.data_source == "demo" if practice.is_demo else t.c.data_source != "demo"


def signal_frame(engine: Engine, practice: Practice) -> pd.DataFrame:
    """One row per provider the practice can see that has any imported signal (columns
    `SIGNAL_COLUMNS`; NaN = no data). Joined to `provider` in SQL, so a national Medicare file
    of a million NPIs costs only the rows of the practice's own providers."""
    t, v, p = db.provider, db.medicare_volume, db.procedure_volume
    with engine.connect() as conn:
        vol = pd.DataFrame(
            conn.execute(
                sa.select(v.c.npi, v.c.tot_benes, v.c.tot_srvcs, v.c.provider_type)
                .join(t, t.c.npi == v.c.npi)
                .where(_scope(practice))
            ).all(),
            columns=["npi", "tot_benes", "tot_srvcs", "medicare_type"],
        )
        procs = pd.DataFrame(
            conn.execute(
                sa.select(p.c.npi, sa.func.sum(p.c.tot_srvcs))
                .join(t, t.c.npi == p.c.npi)
                .where(_scope(practice))
                .group_by(p.c.npi)
            ).all(),
            columns=["npi", "pt_procedures"],
        )
    frame = vol.merge(procs, on="npi", how="outer")
    frame = frame.merge(shared_summary(engine, practice), on="npi", how="outer")
    for col in ("tot_benes", "tot_srvcs", "pt_procedures", "shared_you", "shared_competitors",
                "competitor_count", "shared_share"):  # fmt: skip
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["shared_label"] = frame["shared_label"].astype(object)
    frame["medicare_type"] = frame["medicare_type"].astype(object)
    return frame[SIGNAL_COLUMNS]


def attach(providers: pd.DataFrame, signals: pd.DataFrame) -> pd.DataFrame:
    """The providers frame with the signal columns joined (NaN where no data)."""
    if signals.empty:
        out = providers.copy()
        for col in SIGNAL_COLUMNS[1:]:
            out[col] = np.nan if col != "shared_label" else None
        return out
    return providers.merge(signals, on="npi", how="left")


def sources(engine: Engine) -> dict[str, str]:
    """Dataset and data year of each loaded signal: {"volume" | "procedures" | "shared": text};
    a signal not loaded has no key."""
    out: dict[str, str] = {}
    with engine.connect() as conn:
        year = conn.execute(sa.select(sa.func.max(db.medicare_volume.c.data_year))).scalar()
        if year:
            out["volume"] = f"Medicare by Provider, {year}"
        year = conn.execute(sa.select(sa.func.max(db.procedure_volume.c.data_year))).scalar()
        if year:
            out["procedures"] = f"Medicare by Provider and Service, {year}"
        t = db.shared_patient_pair
        row = conn.execute(
            sa.select(t.c.data_year, t.c.source).order_by(t.c.data_year.desc()).limit(1)
        ).first()
        if row:
            out["shared"] = f"{SOURCE_LABELS.get(row.source, row.source)}, {row.data_year}"
    return out


def provider_signals(engine: Engine, practice: Practice, npi: str) -> ProviderSignals:
    """One provider's figures for the card."""
    sig = ProviderSignals()
    with engine.connect() as conn:
        v = conn.execute(
            sa.select(db.medicare_volume).where(db.medicare_volume.c.npi == npi)
        ).first()
        if v is not None:
            sig.tot_benes, sig.tot_srvcs = v.tot_benes, v.tot_srvcs
            sig.medicare_type, sig.volume_year = v.provider_type, v.data_year
        p = db.procedure_volume
        rows = conn.execute(
            sa.select(p.c.hcpcs_cd, p.c.tot_srvcs, p.c.data_year)
            .where(p.c.npi == npi)
            .order_by(p.c.tot_srvcs.desc())
        ).all()
        if rows:
            sig.procedures = [(procedure_label(r.hcpcs_cd), r.tot_srvcs or 0.0) for r in rows]
            known = [r.tot_srvcs for r in rows if r.tot_srvcs is not None]
            sig.pt_procedures = float(sum(known)) if known else None
            sig.procedures_year = rows[0].data_year
        t = db.shared_patient_pair
        pairs = conn.execute(
            sa.select(t.c.npi_to, t.c.patient_count, t.c.data_year, t.c.source).where(
                t.c.npi_from == npi
            )
        ).all()
    if pairs:
        comps = _competitors(engine, practice).set_index("npi")["name"].to_dict()
        you = sum(r.patient_count or 0 for r in pairs if practice.npi and r.npi_to == practice.npi)
        named = sorted(
            ((comps[r.npi_to], r.patient_count or 0) for r in pairs if r.npi_to in comps),
            key=lambda x: -x[1],
        )
        if you or named:
            sig.shared_you = you
            sig.shared_competitors = named
            total = you + sum(n for _, n in named)
            sig.shared_label = loyalty_label(you / total) if total else None
            sig.shared_year = pairs[0].data_year
            sig.shared_source = SOURCE_LABELS.get(pairs[0].source, pairs[0].source)
    return sig


def shared_sentence(sig: ProviderSignals, max_names: int = 3) -> str | None:
    """ "shares patients with: you (12); PT competitors A and B (40)", or None without data."""
    if sig.shared_you is None:
        return None
    parts = [f"you ({sig.shared_you})"]
    if sig.shared_competitors:
        names = [n for n, _ in sig.shared_competitors[:max_names]]
        more = len(sig.shared_competitors) - len(names)
        if more:
            names.append(f"{more} more")
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        total = sum(n for _, n in sig.shared_competitors)
        label = "PT competitor" if len(sig.shared_competitors) == 1 else "PT competitors"
        parts.append(f"{label} {listed} ({total})")
    return "shares patients with: " + "; ".join(parts)
