"""Widgets of the Targets page: the pipeline, a partner's editor and timeline, the activity
form, follow-up lists, the week's cadence and checklist, letters and the visit planner.

Every write happens in an `on_click` callback, before the script reruns, so what is drawn next
already shows the change; the callback leaves its message in `st.session_state["targets_flash"]`
for the page to show once. Untrusted text (provider names, notes typed by staff) only reaches
the screen through st.dataframe / st.text (which never render HTML) or `md_escape`.

Session-state keys (all prefixed, none needed on another page):
- "targets_flash": (kind, message) shown once at the top of the page;
- "targets_tab": the open tab (the page runs only that one);
- "_w_partner": the partner open in the editor; "_targets_last_selection": the table rows last
  seen selected (a new single selection opens that partner); "targets_confirm_remove": partner
  ids waiting for the user to confirm their removal;
- "pf:<field>:<partner id>": the editor's widgets, plus "pf:token:<id>", the partner's
  `updated_at` when the editor was opened (a save from a stale editor is refused).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import pandas as pd
import streamlit as st
from sqlalchemy.engine import Engine

from components.text import md_escape
from services import db, outreach, partners, playbook, routes
from services import letters as letters_svc
from services.activities import KIND_LABELS, KINDS, ActivityError, log_activity
from services.exports import to_csv_bytes
from services.practices import Practice
from services.specialties import group_label, specialty_label

FLASH = "targets_flash"
EDITOR_FIELDS = ("stage", "day", "owner", "priority", "notes", "token")
NO_PARTNER = -1


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH, (None, None))
    if kind:
        getattr(st, kind)(message)


def display_name(row: pd.Series) -> str:
    cred = row.get("credential")
    return f"{row['name']}, {cred}" if isinstance(cred, str) and cred else str(row["name"])


def partner_labels(df: pd.DataFrame) -> dict[int, str]:
    """partner id → "Name, MD · Specialty group" for pickers. Nothing that changes (the stage)
    goes in a label: a keyed picker keeps showing the label it had when the value was set."""
    return {
        int(r["partner_id"]): f"{display_name(r)} · {group_label(r['specialty_group'])}"
        for _, r in df.iterrows()
    }


# --- pipeline -------------------------------------------------------------------------------


def stage_metrics(counts: dict[str, int]) -> None:
    cols = st.columns(len(playbook.STAGES))
    for col, stage in zip(cols, playbook.STAGES, strict=True):
        col.metric(playbook.STAGE_LABELS[stage], counts.get(stage, 0))


def pipeline_filters(df: pd.DataFrame) -> tuple[list[str] | None, list[str] | None, list[str]]:
    """Specialty group, owner and stage pickers; an empty picker means "all"."""
    c1, c2, c3 = st.columns(3)
    groups = sorted({g for g in df["specialty_group"].dropna()}, key=group_label)
    owners = sorted({o for o in df["owner"].dropna() if o})
    g = c1.multiselect(
        "Specialty group",
        groups,
        format_func=group_label,
        key="_w_f_groups",
        placeholder="All groups",
    )
    o = c2.multiselect(
        "Owner",
        [*owners, ""],
        format_func=lambda v: v or "(nobody)",
        key="_w_f_owners",
        placeholder="All owners",
    )
    s = c3.multiselect(
        "Stage",
        list(playbook.STAGES),
        format_func=playbook.STAGE_LABELS.get,
        key="_w_f_stages",
        placeholder="All stages",
    )
    return (g or None), (o or None), (s or list(playbook.STAGES))


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
                lambda p: partners.PRIORITY_LABELS.get(int(p), "") if pd.notna(p) else ""
            ),
            "owner": df["owner"],
            "last_referral": df["last_referral"],
            "city": df["city"],
            "phone": df["phone"],
            "added": df["added_at"].map(lambda d: d.date() if hasattr(d, "date") else d),
            "notes": df["notes"],
        }
    ).reset_index(drop=True)


PIPELINE_COLUMNS = {
    "partner_id": None,
    "npi": st.column_config.TextColumn("NPI"),
    "stage": "Stage",
    "name": st.column_config.TextColumn("Name", width="medium"),
    "group": "Group",
    "active": st.column_config.TextColumn(
        "Active", help="From the referral log: a referral exchanged in the last 90 days."
    ),
    "priority": "Priority",
    "owner": "Owner",
    "last_referral": st.column_config.DateColumn("Last referral"),
    "city": "City",
    "phone": "Phone",
    "added": st.column_config.DateColumn("Added"),
    "notes": st.column_config.TextColumn("Notes", width="medium"),
}


def pipeline_table(view: pd.DataFrame) -> list[int]:
    """The list; returns the partner ids selected in it."""
    ids = [int(i) for i in view["partner_id"]]
    selection = st.dataframe(
        view,
        hide_index=True,
        on_select="rerun",
        selection_mode="multi-row",
        key="targets_table",
        column_config=PIPELINE_COLUMNS,
    )
    chosen = [ids[i] for i in selection.selection.rows if i < len(ids)]
    # A newly selected single row opens in the editor below (drawn after this, so its picker
    # can still be set); a picker change while the row stays selected is left alone.
    if len(chosen) == 1 and st.session_state.get("_targets_last_selection") != chosen:
        st.session_state["_w_partner"] = chosen[0]
    st.session_state["_targets_last_selection"] = chosen
    return chosen


def _forget_editor(partner_ids: Sequence[int]) -> None:
    for pid in partner_ids:
        for f in EDITOR_FIELDS:
            st.session_state.pop(f"pf:{f}:{pid}", None)


def bulk_actions(engine: Engine, practice: Practice, chosen: list[int]) -> None:
    """Move the selected partners to a stage, or remove them (asking first when they have
    history)."""

    def move(ids: list[int]) -> None:
        stage = st.session_state["_w_bulk_stage"]
        try:
            moved = partners.set_stage(engine, practice.id, ids, stage)
        except partners.PartnerError as exc:
            flash("error", str(exc))
            return
        _forget_editor(ids)
        flash("success", f"Moved {moved} to {playbook.STAGE_LABELS[stage]}.")

    def remove(ids: list[int], confirmed: bool) -> None:
        st.session_state.pop("targets_confirm_remove", None)
        needs = []
        if not confirmed:
            needs = [
                pid for pid in ids if partners.partner_history(engine, practice.id, pid).has_history
            ]
        if needs:
            st.session_state["targets_confirm_remove"] = list(ids)
            return
        removed = sum(partners.remove_partner(engine, practice.id, pid) for pid in ids)
        _forget_editor(ids)
        flash("success", f"Removed {removed} from the list. Their referrals stay in the log.")

    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
    c1.selectbox(
        "Move selected to",
        playbook.STAGES,
        format_func=playbook.STAGE_LABELS.get,
        key="_w_bulk_stage",
    )
    c2.button(
        f"Move {len(chosen)} selected" if chosen else "Move selected",
        disabled=not chosen,
        on_click=move,
        args=(chosen,),
        key="move_selected",
    )
    c3.button(
        f"Remove {len(chosen)} selected" if chosen else "Remove selected",
        disabled=not chosen,
        on_click=remove,
        args=(chosen, False),
        key="remove_selected",
        help="Referrals already logged with these providers stay in the referral log.",
    )
    pending = st.session_state.get("targets_confirm_remove")
    if pending:
        lines = []
        for pid in pending:
            h = partners.partner_history(engine, practice.id, pid)
            if h.has_history:
                lines.append(h.describe())
        with st.container(border=True, key="confirm_remove_box"):
            st.warning(
                f"{len(lines)} of the {len(pending)} selected partner(s) have history "
                f"({'; '.join(lines)}). Removing erases their stage history, so past pipeline "
                "counts change; referrals stay in the referral log and activities stay in the "
                "activity log. Moving them to **Dropped** keeps the history.",
                icon=":material/warning:",
            )
            a, b = st.columns(2)
            a.button(
                "Yes, remove",
                type="primary",
                key="confirm_remove",
                on_click=remove,
                args=(pending, True),
            )
            b.button(
                "Cancel",
                key="cancel_remove",
                on_click=lambda: st.session_state.pop("targets_confirm_remove", None),
            )


# --- one partner ----------------------------------------------------------------------------


def partner_picker(df: pd.DataFrame) -> int | None:
    labels = partner_labels(df)
    if not labels:
        return None
    if st.session_state.get("_w_partner") not in labels:
        st.session_state["_w_partner"] = next(iter(labels))
    return st.selectbox(
        "Partner",
        list(labels),
        format_func=labels.get,
        key="_w_partner",
        help="Or select one row in the table above.",
    )


def partner_editor(engine: Engine, practice: Practice, row: pd.Series, today: date) -> None:
    """Stage (with the date it changed), owner, priority and notes of one partner."""
    pid = int(row["partner_id"])
    k = {f: f"pf:{f}:{pid}" for f in EDITOR_FIELDS}
    defaults = {
        "stage": row["stage"],
        "day": today,
        "owner": row["owner"] or "",
        "priority": int(row["priority"]) if pd.notna(row["priority"]) else None,
        "notes": row["notes"] or "",
        "token": row["updated_at"],
    }
    for f, value in defaults.items():
        st.session_state.setdefault(k[f], value)

    def save() -> None:
        day = st.session_state[k["day"]]
        stage = st.session_state[k["stage"]]
        # local wall-clock time like every other stage change; a past day is recorded at noon
        when = db.localnow() if day == date.today() else datetime.combine(day, time(12))
        try:
            moved = partners.update_partner(
                engine,
                practice.id,
                pid,
                stage=stage,
                owner=st.session_state[k["owner"]],
                priority=st.session_state[k["priority"]],
                notes=st.session_state[k["notes"]],
                when=when,
                expected_updated_at=st.session_state[k["token"]],
            )
        except partners.PartnerError as exc:
            flash("error", f"Not saved. {exc}")
            return
        fresh = partners.list_partners(engine, practice.id).set_index("partner_id")
        st.session_state[k["token"]] = fresh.loc[pid, "updated_at"]
        label = playbook.STAGE_LABELS[stage]
        flash("success", f"Saved. Stage moved to {label}." if moved else "Saved.")

    name = display_name(row)
    head, badge = st.columns([3, 1], vertical_alignment="center")
    head.markdown(f"#### {md_escape(name)}")
    if row["active"]:
        badge.badge(
            "Active partnership",
            icon=":material/bolt:",
            color="green",
            help="A referral exchanged in the last 90 days (from the referral log).",
        )
    else:
        badge.badge("Not active", color="gray", help="No referral exchanged in the last 90 days.")
    details = [
        specialty_label(row["primary_taxonomy"]),
        ", ".join(str(v) for v in (row["address"], row["city"], row["state"]) if v),
        f"Phone {row['phone']}" if row["phone"] else "",
        f"NPI {row['npi']}",
    ]
    st.caption(md_escape(" · ".join(d for d in details if d)))
    with st.form(key=f"partner_form:{pid}", border=True):
        c1, c2 = st.columns(2)
        c1.selectbox(
            "Stage", playbook.STAGES, format_func=playbook.STAGE_LABELS.get, key=k["stage"]
        )
        c2.date_input(
            "Stage changed on",
            key=k["day"],
            max_value=today,
            help="Used only when the stage changes; recorded in the history.",
        )
        c3, c4 = st.columns(2)
        c3.text_input("Owner (staff name)", key=k["owner"], max_chars=partners.MAX_OWNER)
        c4.selectbox(
            "Priority",
            [None, *partners.PRIORITIES],
            format_func=lambda p: "—" if p is None else partners.PRIORITY_LABELS[p],
            key=k["priority"],
        )
        st.text_area("Notes", key=k["notes"], max_chars=partners.MAX_NOTES, height=90)
        st.form_submit_button(
            "Save partner", type="primary", on_click=save, key=f"save_partner:{pid}"
        )


def timeline_view(tl: pd.DataFrame) -> None:
    if tl.empty:
        st.caption("Nothing logged yet.")
        return
    lines = []
    for _, e in tl.iterrows():
        who = f" · {md_escape(e['staff'])}" if isinstance(e["staff"], str) and e["staff"] else ""
        line = f"**{e['date'].isoformat()}** · {md_escape(e['what'])}{who}"
        if isinstance(e["notes"], str) and e["notes"].strip():
            line += f"  \n{md_escape(e['notes'])}"
        lines.append(f"- {line}")
    with st.container(height=min(420, 60 + 52 * len(lines)), key="partner_timeline"):
        st.markdown("\n".join(lines))


# --- activities -----------------------------------------------------------------------------


def activity_form(
    engine: Engine,
    practice: Practice,
    key: str,
    partner_choices: dict[int, str],
    fixed_partner: int | None = None,
    default_staff: str = "",
) -> None:
    """Log an outreach or networking activity; partner optional (events) unless fixed."""
    k = {f: f"af:{key}:{f}" for f in ("partner", "kind", "day", "staff", "notes", "due")}

    def submit() -> None:
        pid = fixed_partner if fixed_partner is not None else st.session_state[k["partner"]]
        try:
            log_activity(
                engine,
                practice.id,
                st.session_state[k["kind"]],
                st.session_state[k["day"]],
                partner_id=None if pid in (None, NO_PARTNER) else int(pid),
                staff=st.session_state[k["staff"]],
                notes=st.session_state[k["notes"]] or None,
                follow_up_due=st.session_state[k["due"]],
            )
        except ActivityError as exc:
            flash("error", f"Not logged. {exc}")
            return
        label = KIND_LABELS[st.session_state[k["kind"]]]
        flash("success", f"{label} logged.")
        st.session_state[k["notes"]] = ""
        st.session_state[k["due"]] = None

    st.session_state.setdefault(k["staff"], default_staff)
    with st.form(key=f"activity_form:{key}", border=True):
        if fixed_partner is None:
            options = [NO_PARTNER, *partner_choices]
            st.selectbox(
                "Partner",
                options,
                format_func=lambda p: (
                    "— none (an event, e.g. a medical society evening) —"
                    if p == NO_PARTNER
                    else partner_choices[p]
                ),
                key=k["partner"],
            )
        c1, c2, c3 = st.columns(3)
        c1.selectbox("Kind", KINDS, format_func=KIND_LABELS.get, key=k["kind"])
        c2.date_input(
            "Date",
            value=date.today(),
            key=k["day"],
            help="The day it happened. Plans go in the follow-up date.",
        )
        c3.date_input("Follow-up due (optional)", value=None, key=k["due"])
        st.text_input("Staff", key=k["staff"], max_chars=100)
        st.text_area("Notes", key=k["notes"], height=80)
        st.form_submit_button("Log activity", on_click=submit, key=f"log_activity:{key}")


def follow_up_table(df: pd.DataFrame, key: str, empty: str) -> None:
    if df.empty:
        st.caption(empty)
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Due": df["follow_up_due"],
                "Partner": df["partner_name"].fillna("(no partner)"),
                "After": df["kind"].map(KIND_LABELS.get),
                "On": df["activity_date"],
                "Staff": df["staff"],
                "Notes": df["notes"],
            }
        ),
        hide_index=True,
        key=key,
    )


def activity_log(acts: pd.DataFrame) -> None:
    if acts.empty:
        st.caption("No activities logged yet.")
        return
    st.dataframe(
        outreach.activities_export(acts),
        hide_index=True,
        key="activity_log",
        column_config={"Notes": st.column_config.TextColumn(width="large")},
    )


def csv_download(label: str, frame: pd.DataFrame, file_name: str, key: str) -> None:
    st.download_button(
        label,
        data=to_csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
        help="Cells that a spreadsheet would run as a formula are prefixed with '.",
    )


def targets_export(df: pd.DataFrame) -> pd.DataFrame:
    view = pipeline_view(df).drop(columns=["partner_id"])
    view["active"] = view["active"].map(lambda a: "yes" if a else "")
    return view.rename(columns=EXPORT_HEADERS)


EXPORT_HEADERS = {
    "npi": "NPI", "stage": "Stage", "name": "Name", "group": "Specialty group",
    "active": "Active", "priority": "Priority", "owner": "Owner",
    "last_referral": "Last referral", "city": "City", "phone": "Phone", "added": "Added",
    "notes": "Notes",
}  # fmt: skip


# --- this week ------------------------------------------------------------------------------


def week_panel(acts: pd.DataFrame, checklist: list[outreach.ChecklistItem], today: date) -> None:
    low, high = playbook.VISITS_PER_WEEK
    visits = outreach.visits_in_week(acts, today)
    monday, sunday = outreach.week_of(today)
    status = outreach.cadence_status(visits)
    c1, c2 = st.columns([1, 2])
    with c1, st.container(border=True, key="week_visits"):
        st.metric(
            f"Outreach visits this week ({monday:%b} {monday.day}–{sunday:%b} {sunday.day})",
            f"{visits} of {low}–{high}",
            help="Visits and lunches logged this week, against the playbook's 2–3 a week.",
        )
        st.progress(min(1.0, visits / high))
        st.caption(
            {
                "below": f"{low - visits} more to reach the playbook's pace.",
                "on": "On the playbook's pace.",
                "above": "Above the playbook's pace.",
            }[status]
        )
    with c2:
        weekly = outreach.weekly_visits(acts, today).assign(
            week=lambda d: d["week_of"].map(lambda w: f"{w:%b} {w.day}")
        )
        st.bar_chart(
            weekly,
            x="week",
            y="visits",
            height=190,
            x_label="Week of",
            y_label="Visits",
            sort=False,
        )
    st.markdown("##### The playbook's weekly steps")
    with st.container(border=True, key="weekly_checklist"):
        for item in checklist:
            icon = (
                ":green[:material/check_circle:]"
                if item.done
                else ":orange[:material/radio_button_unchecked:]"
            )
            st.markdown(f"{icon} {item.label}", help=item.detail or None)


# --- letters --------------------------------------------------------------------------------


def letters_panel(
    engine: Engine, practice: Practice, df: pd.DataFrame, today: date, default_staff: str
) -> None:
    kind = st.radio(
        "Letter",
        letters_svc.KINDS,
        format_func=letters_svc.KIND_LABELS.get,
        horizontal=True,
        key="_w_letter_kind",
    )
    rev = st.session_state.get("letter_rev", 0)
    tkey = f"letter_template:{kind}:{rev}"
    saved = letters_svc.get_template(engine, practice.id, kind)

    def save() -> None:
        try:
            letters_svc.save_template(engine, practice.id, kind, st.session_state[tkey])
        except letters_svc.LetterError as exc:
            flash("error", f"Template not saved. {exc}")
            return
        flash("success", f"{letters_svc.KIND_LABELS[kind]} template saved.")

    def reset() -> None:
        letters_svc.reset_template(engine, practice.id, kind)
        st.session_state["letter_rev"] = rev + 1
        flash("success", f"{letters_svc.KIND_LABELS[kind]} template reset to the default.")

    edit, use = st.columns(2, gap="large")
    with edit:
        st.text_area("Template", value=saved, height=360, key=tkey)
        st.caption(
            "Placeholders: "
            + ", ".join(f"`{{{p}}}` {d}" for p, d in letters_svc.PLACEHOLDERS.items())
            + ". Write `{{` or `}}` for a literal brace."
        )
        b1, b2 = st.columns(2)
        b1.button("Save template", on_click=save, key="save_template", type="primary")
        b2.button(
            "Reset to default",
            on_click=reset,
            key="reset_template",
            disabled=not letters_svc.is_customised(engine, practice.id, kind),
        )
    template = st.session_state.get(tkey, saved)
    labels = partner_labels(df)
    with use:
        chosen = st.multiselect(
            "Partners",
            list(labels),
            format_func=labels.get,
            key="_w_letter_partners",
            placeholder="Choose one or more partners",
        )
        c1, c2 = st.columns(2)
        st.session_state.setdefault("_w_letter_staff", default_staff)
        staff = c1.text_input("Signed by (staff)", key="_w_letter_staff")
        day = c2.date_input("Letter date", value=today, key="_w_letter_date")
        try:
            letters_svc.check_template(template)
        except letters_svc.LetterError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        if not chosen:
            st.info("Choose partners to preview and download their letters.")
            return
        rows = df.set_index("partner_id").loc[chosen]
        recipients = [
            letters_svc.Recipient(
                int(pid),
                display_name(r),
                letters_svc.specialty_for_letter(r["primary_taxonomy"], r["specialty_group"]),
            )
            for pid, r in rows.iterrows()
        ]
        try:
            batch = letters_svc.render_letters(template, recipients, practice.name, staff, day)
        except letters_svc.LetterError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        with st.container(border=True, height=300, key="letter_preview"):
            st.text(batch[0].text)
        if len(batch) > 1:
            st.caption(f"Showing the first of {len(batch)} letters.")
        stem = f"{kind}-letters-{day.isoformat()}"
        d1, d2 = st.columns(2)
        d1.download_button(
            "Download .docx",
            data=letters_svc.to_docx(batch),
            file_name=f"{stem}.docx",
            on_click="ignore",
            key="letters_docx",
            mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            icon=":material/description:",
        )
        d2.download_button(
            "Download text",
            data=letters_svc.to_text(batch),
            file_name=f"{stem}.txt",
            mime="text/plain",
            on_click="ignore",
            key="letters_txt",
            icon=":material/article:",
        )

        def log_sent() -> None:
            try:
                n = letters_svc.log_letters(engine, practice.id, kind, chosen, day, staff)
            except (letters_svc.LetterError, ActivityError) as exc:
                flash("error", f"Not logged. {exc}")
                return
            activity = KIND_LABELS[letters_svc.ACTIVITY_KIND[kind]].lower()
            flash("success", f"Logged {n} {activity} activit{'y' if n == 1 else 'ies'}.")

        st.button(
            f"Log {len(batch)} as sent",
            on_click=log_sent,
            key="log_letters",
            icon=":material/send:",
            help="Adds one activity per partner to the activity log.",
        )


# --- visit planner --------------------------------------------------------------------------


def planner_panel(practice: Practice, df: pd.DataFrame) -> None:
    if not practice.located:
        st.info("The practice has no location yet, so a route cannot start from it.")
        return
    candidates = df[(df["stage"] != "dropped") & df["lat"].notna() & df["lon"].notna()]
    labels = partner_labels(candidates)
    chosen = st.multiselect(
        "Stops for the day",
        list(labels),
        format_func=labels.get,
        key="_w_route_stops",
        max_selections=routes.MAX_WAYPOINTS,
        placeholder="Choose the partners to visit",
        help=f"Up to {routes.MAX_WAYPOINTS} stops (what a Google Maps link can carry).",
    )
    round_trip = st.checkbox("Back to the practice at the end", value=True, key="_w_route_back")
    if not chosen:
        st.info("Choose two or more partners to plan a route.")
        return
    rows = candidates.set_index("partner_id").loc[chosen]
    start = routes.Stop("practice", practice.name, practice.lat, practice.lon)  # type: ignore[arg-type]
    stops = [
        routes.Stop(str(pid), display_name(r), float(r["lat"]), float(r["lon"]))
        for pid, r in rows.iterrows()
    ]
    try:
        route = routes.plan_route(start, stops, round_trip=round_trip)
        url = routes.google_maps_url(route)
    except routes.RouteError as exc:
        st.error(str(exc))
        return
    addresses = {
        str(pid): ", ".join(str(v) for v in (r["address"], r["city"]) if v)
        for pid, r in rows.iterrows()
    }
    table = pd.DataFrame(
        {
            "Stop": list(range(1, len(route.stops) + 1)),
            "Partner": [s.name for s in route.stops],
            "Address": [addresses[s.key] for s in route.stops],
            "Miles from previous": [round(m, 1) for m in route.legs_mi[: len(route.stops)]],
        }
    )
    st.dataframe(table, hide_index=True, key="route_table")
    back = f" including {route.legs_mi[-1]:.1f} mi back to the practice" if round_trip else ""
    st.metric("Total distance", f"{route.total_mi:.1f} mi")
    st.caption(f"Straight-line miles{back}; driving distance will be longer.")
    st.link_button("Open in Google Maps", url, icon=":material/directions_car:", type="primary")
