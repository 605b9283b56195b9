"""An editor's working copy of the referral log: unsaved changes kept on top of the store.

A grid editor (the Referral log page's) collects a batch of edits, additions and deletions
before the user saves them. The working copy holds that batch beside the rows as last read,
reloads the rows when another session changed the log (keeping the unsaved changes on top),
saves the batch through `store.save_changes`, and turns what the store refused into
conflicts the user settles. It knows nothing of any UI toolkit: the page only feeds it the
grid's deltas and draws what it holds.

Rows are identified by a token: "id12" for referral #12, "new3" for the third row added in
this copy. No unsaved edit is ever dropped without the user's say: an edit to a row another
session deleted stays, as a conflict the user answers with `restore` (save it again as a new
referral with these values) or `discard`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from services import identifiers
from services.referrals.cells import (
    FIELDS,
    FieldError,
    is_blank,
    parse_date,
    parse_int,
)
from services.referrals.store import (
    Conflict,
    Edit,
    SaveResult,
    load_referrals,
    log_revision,
    save_changes,
)

DATE_FIELDS = ("referral_date", "first_visit_date", "thank_you_sent", "outcome_note_sent")
PERIODS = ("All time", "Last 30 days", "Last 90 days", "Last 12 months", "Custom range")


def _db_table(engine: Engine, practice_id: int) -> pd.DataFrame:
    df = load_referrals(engine, practice_id)
    df.index = pd.Index(["id" + str(int(i)) for i in df["id"]], dtype=object)
    return df


def cell_value(column: str, value: Any) -> Any:
    """A grid cell's value as the working copy holds it. Dates arrive as ISO text; a text that
    cannot be read is kept as typed, so validation names it rather than it silently vanishing."""
    if column in DATE_FIELDS:
        try:
            return parse_date(value)
        except ValueError:
            return value
    if column == "visits":
        try:
            return parse_int(value)
        except ValueError:
            return value
    if is_blank(value):
        return None
    return value


def new_row_defaults(today: date) -> dict[str, Any]:
    return {"referral_date": today, "direction": "received", "status": "received"}


def period_bounds(period: str, today: date, custom: Any = None) -> tuple[date | None, date | None]:
    """The dates a period filter ("Last 30 days", ...) keeps, both ends included."""
    if period == "Last 30 days":
        return today - timedelta(days=29), today
    if period == "Last 90 days":
        return today - timedelta(days=89), today
    if period == "Last 12 months":
        return today - timedelta(days=364), today
    if period == "Custom range" and custom:
        start = custom[0] if len(custom) > 0 else None
        end = custom[1] if len(custom) > 1 else start
        return start, end
    return None, None


@dataclass
class WorkingCopy:
    practice_id: int
    work: pd.DataFrame  # index: row token ("id12", "new3"); columns: id, version, *FIELDS
    revision: tuple = ()  # store.log_revision when `work` was last read
    dirty: set[str] = field(default_factory=set)
    deleted: dict[str, tuple[int, int]] = field(default_factory=dict)  # token -> (id, version)
    errors: dict[str, list[FieldError]] = field(default_factory=dict)
    conflicts: list[Conflict] = field(default_factory=list)
    #: moves on every change to `work`, so a grid keyed on it restarts from the working copy
    rev: int = 0
    view_tokens: list[str] = field(default_factory=list)
    new_seq: int = 0
    #: name -> (key, value): results derived from the working table, reused until `rev` moves
    memo: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, engine: Engine, practice_id: int) -> WorkingCopy:
        return cls(practice_id, _db_table(engine, practice_id), log_revision(engine, [practice_id]))

    @property
    def pending(self) -> int:
        return len(self.dirty) + len(self.deleted)

    @property
    def editor_key(self) -> str:
        """A key for the grid that changes with `rev`, so the grid never replays a delta."""
        return f"ref_editor:{self.practice_id}:{self.rev}"

    # --- keeping up with the store -------------------------------------------------------------

    def sync(self, engine: Engine) -> bool:
        """Reload when another session (or page) changed the log; True when it did."""
        if log_revision(engine, [self.practice_id]) == self.revision:
            return False
        self.refresh(engine)
        return True

    def refresh(self, engine: Engine, drop_tokens: set[str] | None = None) -> None:
        """Reload from the database, keeping unsaved rows (new, edited, deleted) except
        `drop_tokens`, whose changes are discarded.

        An edited row that another session deleted is kept as it is, with a "deleted"
        conflict, until the user restores or discards it."""
        drop = drop_tokens or set()
        fresh = _db_table(engine, self.practice_id)
        for t in drop:
            self.dirty.discard(t)
            self.errors.pop(t, None)
            self.deleted.pop(t, None)
        keep = [t for t in self.dirty if t not in drop and t in self.work.index]
        saved_keep = [t for t in keep if t in fresh.index]
        if saved_keep:
            fresh = fresh.astype(object)
            for t in saved_keep:
                fresh.loc[t] = self.work.loc[t, fresh.columns]
        orphans = [t for t in keep if t not in fresh.index and not t.startswith("new")]
        new_tokens = [t for t in keep if t not in fresh.index and t.startswith("new")]
        extra = self.work.loc[orphans + new_tokens]
        gone = [t for t in self.deleted if t in fresh.index]
        fresh = fresh.drop(index=gone)
        self.deleted = {t: v for t, v in self.deleted.items() if t in gone}
        self.dirty = set(saved_keep) | set(extra.index)
        work = pd.concat([fresh, extra]) if len(extra) else fresh
        work["visits"] = work["visits"].astype("Int64")
        self.work = work
        known = {c.ref for c in self.conflicts}
        for t in orphans:
            if t not in known:
                self.conflicts.append(self._deleted_conflict(t))
        # A conflict whose row left the table (discarded, or deleted by this session) is moot.
        self.conflicts = [
            c for c in self.conflicts if c.ref in self.work.index and c.ref not in drop
        ]
        self.revision = log_revision(engine, [self.practice_id])
        self.rev += 1

    def _deleted_conflict(self, token: str) -> Conflict:
        referral_id = int(self.work.at[token, "id"])
        return Conflict(
            token,
            referral_id,
            f"Referral #{referral_id} was deleted in another session while you were editing "
            "it. Your changes are kept: restore it with your changes (it is saved again as a "
            "new referral), or discard your changes.",
            kind="deleted",
        )

    # --- applying a grid's changes -------------------------------------------------------------

    def apply_delta(self, delta: dict[str, Any], today: date) -> None:
        """Apply one grid delta ({"edited_rows", "added_rows", "deleted_rows"}) to the working
        table. Positions are positions in the view the grid was drawn with, which
        `view_tokens` recorded, so filters and the table's order cannot misdirect an edit."""
        work = self.work
        tokens = self.view_tokens
        for pos, changes in (delta.get("edited_rows") or {}).items():
            pos = int(pos)
            if pos >= len(tokens) or tokens[pos] not in work.index:
                continue
            token = tokens[pos]
            for column, value in changes.items():
                if column in FIELDS:
                    value = cell_value(column, value)
                    if column == "visits" and not isinstance(value, int | None):
                        work["visits"] = work["visits"].astype(object)
                    work.at[token, column] = value
            self.dirty.add(token)
        added = delta.get("added_rows") or []
        if added:
            rows = {}
            for values in added:
                self.new_seq += 1
                token = f"new{self.new_seq}"
                row: dict[str, Any] = {c: None for c in work.columns}
                row.update(new_row_defaults(today))
                for column, value in values.items():
                    if column in FIELDS and not is_blank(value):
                        row[column] = cell_value(column, value)
                rows[token] = row
                self.dirty.add(token)
            extra = pd.DataFrame.from_dict(rows, orient="index")
            work = pd.concat([work, extra[work.columns]]) if len(work) else extra[work.columns]
        for pos in delta.get("deleted_rows") or []:
            pos = int(pos)
            if pos >= len(tokens):
                continue
            token = tokens[pos]
            if token not in work.index:
                continue
            rid, version = work.at[token, "id"], work.at[token, "version"]
            if not is_blank(rid) and not self._is_deleted_elsewhere(token):
                self.deleted[token] = (int(rid), int(version))
            self.dirty.discard(token)
            self.errors.pop(token, None)
            self.conflicts = [c for c in self.conflicts if c.ref != token]
            work = work.drop(index=token)
        self.work = work
        self.rev += 1

    def _is_deleted_elsewhere(self, token: str) -> bool:
        return any(c.ref == token and c.kind == "deleted" for c in self.conflicts)

    # --- saving ---------------------------------------------------------------------------------

    def save(self, engine: Engine, today: date) -> SaveResult:
        """Save the working table's changes; keep rows that failed, with their messages."""
        work = self.work
        added, edited = [], []
        for token in work.index:
            if token not in self.dirty or self._is_deleted_elsewhere(token):
                continue
            row = work.loc[token]
            values = {f: row[f] for f in FIELDS}
            if is_blank(row["id"]):
                added.append((token, f"new row {token[3:]}", values))
            else:
                edited.append(
                    Edit(
                        token, int(row["id"]), int(row["version"]), values, f"referral #{row['id']}"
                    )
                )
        deleted = [(t, rid, ver) for t, (rid, ver) in self.deleted.items()]
        result = save_changes(engine, self.practice_id, added, edited, deleted, today)
        done = set(result.inserted) | set(result.updated) | set(result.deleted)
        self.errors = dict(result.errors)
        waiting = [c for c in self.conflicts if c.kind == "deleted" and c.ref not in done]
        self.conflicts = waiting + [
            c for c in result.conflicts if c.ref not in {w.ref for w in waiting}
        ]
        for t in done:
            self.dirty.discard(t)
            self.deleted.pop(t, None)
        # New rows that were saved leave the working table; the reload brings them back by id.
        self.work = self.work.drop(index=[t for t in result.inserted if t in self.work.index])
        for c in result.conflicts:  # a refused delete comes back with the other session's values
            self.deleted.pop(c.ref, None)
        self.refresh(engine)
        return result

    # --- settling conflicts ---------------------------------------------------------------------

    def restore(self, token: str) -> None:
        """Keep this session's values of a row another session deleted: it becomes a new row,
        saved as a new referral by the next save."""
        if token not in self.work.index:
            self._forget_conflict(token)
            return
        self.new_seq += 1
        new_token = f"new{self.new_seq}"
        row = self.work.loc[[token]].copy()
        row.index = pd.Index([new_token], dtype=object)
        row["id"] = pd.NA
        row["version"] = pd.NA
        self.work = pd.concat([self.work.drop(index=token), row])
        self.dirty.discard(token)
        self.dirty.add(new_token)
        if token in self.errors:
            self.errors[new_token] = self.errors.pop(token)
        self._forget_conflict(token)
        self.rev += 1

    def discard(self, token: str) -> None:
        """Drop this session's changes to a row another session deleted."""
        if token in self.work.index:
            self.work = self.work.drop(index=token)
        self.dirty.discard(token)
        self.errors.pop(token, None)
        self._forget_conflict(token)
        self.rev += 1

    def _forget_conflict(self, token: str) -> None:
        self.conflicts = [c for c in self.conflicts if c.ref != token]

    def resolve_conflicts(self, engine: Engine, keep: str) -> None:
        """Settle every conflict at once. `keep="theirs"` drops this session's changes to the
        conflicting rows. `keep="mine"` makes this session's wish the next save's: an edit is
        re-based on the other session's version (so it overwrites it), a refused delete is
        asked again against that version, and an edit to a deleted row is restored."""
        conflicts = list(self.conflicts)
        if keep == "theirs":
            for c in conflicts:
                if c.kind == "deleted":
                    self.discard(c.ref)
            others = {c.ref for c in conflicts if c.kind != "deleted"}
            if others:
                self.refresh(engine, drop_tokens=others)
        else:
            for c in conflicts:
                if c.kind == "deleted":
                    self.restore(c.ref)
                elif c.current_version is None or c.ref not in self.work.index:
                    continue
                elif c.kind == "delete_refused":
                    self.deleted[c.ref] = (c.referral_id, c.current_version)
                    self.dirty.discard(c.ref)
                    self.work = self.work.drop(index=c.ref)
                else:
                    self.work.at[c.ref, "version"] = c.current_version
                    self.dirty.add(c.ref)
            self.rev += 1
        self.conflicts = []

    # --- what the grid shows --------------------------------------------------------------------

    def filtered_view(
        self,
        start: date | None = None,
        end: date | None = None,
        directions: list[str] | None = None,
        partner: str | None = None,
        statuses: list[str] | None = None,
    ) -> pd.DataFrame:
        """The rows to show. Unsaved rows always show, so a new row never vanishes behind a
        filter before it is saved."""
        work = self.work
        keep = pd.Series(True, index=work.index)
        if start is not None or end is not None:
            dates = pd.to_datetime(work["referral_date"], errors="coerce")
            if start is not None:
                keep &= dates >= pd.Timestamp(start)
            if end is not None:
                keep &= dates <= pd.Timestamp(end)
        if directions:
            keep &= work["direction"].isin(directions)
        if partner:
            keep &= work["partner_npi"] == partner
        if statuses:
            keep &= work["status"].isin(statuses)
        if self.dirty:
            keep |= work.index.isin(list(self.dirty))
        return work[keep]

    def memoized(self, name: str, key: Any, compute: Any) -> Any:
        """`compute()`, reused while `key` is unchanged. Every change to the working table
        moves `rev`, so keys that include it can never serve stale results; with 10,000
        referrals this keeps a rerun that changed nothing from recomputing everything."""
        hit = self.memo.get(name)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = compute()
        self.memo[name] = (key, value)
        return value

    def saved_rows(self) -> pd.DataFrame:
        """The rows as saved: follow-ups and conversion count only what is in the database, so
        rows with unsaved edits join once saved (and new, unsaved rows not at all)."""
        return self.work[self.work["id"].notna() & ~self.work.index.isin(list(self.dirty))]

    def check_messages(self, tokens: list[str]) -> list[str]:
        """The grid's Check column for these rows: problems found when saving, else a warning
        about notes that seem to identify a patient, else "unsaved" for a pending change."""
        out = []
        for t in tokens:
            if t in self.errors:
                out.append("; ".join(f"{e.field}: {e.message}" for e in self.errors[t]))
            elif t in self.dirty and (warning := self.note_warning(t)):
                out.append(f"unsaved; {warning}")
            else:
                out.append("unsaved" if t in self.dirty else "")
        return out

    def note_warning(self, token: str) -> str | None:
        if token not in self.work.index:
            return None
        return identifiers.text_warning(self.work.at[token, "notes"])

    def note_warnings(self) -> list[tuple[str, str]]:
        """(row label, warning) for every unsaved row whose notes seem to hold an identifier,
        so the user is told before saving."""
        out = []
        for t in sorted(self.dirty):
            if warning := self.note_warning(t):
                rid = self.work.at[t, "id"]
                label = f"new row {t[3:]}" if is_blank(rid) else f"referral #{int(rid)}"
                out.append((label, warning))
        return out


def save_summary(result: SaveResult) -> str | None:
    """ "Saved: 1 added, 2 changed." for a save that wrote something, else None."""
    parts = []
    if result.inserted:
        parts.append(f"{len(result.inserted)} added")
    if result.updated:
        parts.append(f"{len(result.updated)} changed")
    if result.deleted:
        parts.append(f"{len(result.deleted)} deleted")
    return ("Saved: " + ", ".join(parts) + ".") if parts else None
