"""The Targets page's data as people read it: partner labels, the pipeline table's rows in
their order, the target-list export, follow-up lists, letter recipients and a route's stops.
Plain pandas, so it is tested without a browser; the widgets are in components/targets/.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import pandas as pd

from services import playbook
from services.activities import KIND_LABELS
from services.letters import Recipient, specialty_for_letter
from services.map_table import format_phone, title_case
from services.partners import PRIORITY_LABELS
from services.routes import Route, Stop
from services.specialties import group_label

EXPORT_HEADERS = {
    "npi": "NPI", "stage": "Stage", "name": "Name", "group": "Specialty group",
    "active": "Active", "priority": "Priority", "owner": "Owner",
    "last_referral": "Last referral", "city": "City", "phone": "Phone", "added": "Added",
    "notes": "Notes",
}  # fmt: skip


def display_name(row: pd.Series) -> str:
    """ "Name, MD" (the credential only when there is one)."""
    cred = row.get("credential")
    return f"{row['name']}, {cred}" if isinstance(cred, str) and cred else str(row["name"])


def partner_labels(df: pd.DataFrame) -> dict[int, str]:
    """partner id → "Name, MD · Specialty group" for pickers. Nothing that changes (the stage)
    goes in a label: a keyed picker keeps showing the label it had when the value was set."""
    return {
        int(r["partner_id"]): f"{display_name(r)} · {group_label(r['specialty_group'])}"
        for _, r in df.iterrows()
    }


def names_phrase(names: Sequence[str], limit: int = 3) -> str:
    """ "A, B, C" or "A, B, C and 4 more": short enough for a button, exact about how many."""
    shown = ", ".join(names[:limit])
    rest = len(names) - limit
    return f"{shown} and {rest} more" if rest > 0 else shown


def _day_text(value: object) -> str:
    """An ISO day ("2026-11-27", which sorts as text) or "" when there is none."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return day.isoformat() if isinstance(day, date) else str(day)


def pipeline_view(df: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: grouped by stage (in pipeline order), then priority, newest first."""
    order = {s: i for i, s in enumerate(playbook.STAGES)}
    df = df.assign(_o=df["stage"].map(order), _p=df["priority"].fillna(9))
    df = df.sort_values(["_o", "_p", "added_at"], ascending=[True, True, False], kind="stable")
    return pd.DataFrame(
        {
            "partner_id": df["partner_id"],
            "npi": df["npi"],
            "stage": df["stage"].map(lambda s: playbook.STAGE_LABELS.get(s, s)),
            "name": [display_name(r) for _, r in df.iterrows()],
            "group": df["specialty_group"].map(group_label),
            "active": df["active"].map(lambda a: "● Active" if a else ""),
            "priority": df["priority"].map(
                lambda p: PRIORITY_LABELS.get(int(p), "") if pd.notna(p) else ""
            ),
            # Blank, never "None": a grid shows a missing value as the word.
            "owner": df["owner"].astype(object).fillna(""),
            "last_referral": df["last_referral"].map(_day_text),
            "city": df["city"].map(title_case),
            "phone": df["phone"].map(format_phone),
            "added": df["added_at"].map(_day_text),
            "notes": df["notes"].astype(object).fillna(""),
        }
    ).reset_index(drop=True)


def targets_export(df: pd.DataFrame) -> pd.DataFrame:
    """The target list for a spreadsheet: the table's columns and order, readable headers."""
    view = pipeline_view(df).drop(columns=["partner_id"])
    view["active"] = view["active"].map(lambda a: "yes" if a else "")
    return view.rename(columns=EXPORT_HEADERS)


# --- activities, letters, the visit planner -------------------------------------------------


def follow_ups_view(df: pd.DataFrame) -> pd.DataFrame:
    """Follow-ups (from `outreach.overdue` / `due_this_week`) with readable columns."""
    return pd.DataFrame(
        {
            "Due": df["follow_up_due"],
            "Partner": df["partner_name"].fillna("(no partner)"),
            "After": df["kind"].map(KIND_LABELS.get),
            "On": df["activity_date"],
            "Staff": df["staff"],
            "Notes": df["notes"],
        }
    )


def letter_recipients(df: pd.DataFrame, partner_ids: Sequence[int]) -> list[Recipient]:
    """The chosen partners as letter recipients, in the order chosen."""
    rows = df.set_index("partner_id").loc[list(partner_ids)]
    return [
        Recipient(
            int(pid),
            display_name(r),
            specialty_for_letter(r["primary_taxonomy"], r["specialty_group"]),
        )
        for pid, r in rows.iterrows()
    ]


def route_candidates(df: pd.DataFrame) -> pd.DataFrame:
    """Partners a route can visit: on the list (not dropped) and placed on the map."""
    return df[(df["stage"] != "dropped") & df["lat"].notna() & df["lon"].notna()]


def route_stops(candidates: pd.DataFrame, partner_ids: Sequence[int]) -> list[Stop]:
    """The chosen partners as stops, keyed by partner id."""
    rows = candidates.set_index("partner_id").loc[list(partner_ids)]
    return [
        Stop(str(pid), display_name(r), float(r["lat"]), float(r["lon"]))
        for pid, r in rows.iterrows()
    ]


def route_table(route: Route, candidates: pd.DataFrame) -> pd.DataFrame:
    """The route's stops in visiting order with their address and the miles of each leg."""
    by_id = candidates.set_index("partner_id")
    addresses = {
        str(pid): ", ".join(str(v) for v in (r["address"], r["city"]) if v)
        for pid, r in by_id.iterrows()
    }
    return pd.DataFrame(
        {
            "Stop": list(range(1, len(route.stops) + 1)),
            "Partner": [s.name for s in route.stops],
            "Address": [addresses[s.key] for s in route.stops],
            "Miles from previous": [round(m, 1) for m in route.legs_mi[: len(route.stops)]],
        }
    )
