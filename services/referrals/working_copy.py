"""An editor's working copy of the referral log: unsaved changes kept on top of the store.

A grid editor (the Referral log page's) collects a batch of edits, additions and deletions
before the user saves them. The working copy holds that batch beside the rows as last read and
applies each grid delta to it. It knows nothing of any UI toolkit: the page only feeds it the
grid's deltas and draws what it holds.

Rows are identified by a token: "id12" for referral #12, "new3" for the third row added in
this copy. No unsaved edit is ever dropped without the user's say: an edit to a row another
session deleted stays, as a conflict the user answers with `restore` (save it again as a new
referral with these values) or `discard`.

This module holds the data model and the applying of edits; the rest of the copy's behaviour
lives beside it, one job per module, and is mixed into `WorkingCopy`:
- `working_conflicts`: reloading when another session changed the log, and settling conflicts;
- `working_save`: saving the batch through `store.save_changes`, and the save's summary;
- `working_checks`: the grid's Check column and identifier warnings before saving;
- `working_view`: period filters, the filtered and saved rows, memoized results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from services.referrals.cells import FIELDS, FieldError, is_blank, parse_date, parse_int
from services.referrals.store import Conflict, log_revision
from services.referrals.working_checks import WorkingChecks
from services.referrals.working_conflicts import store_table
from services.referrals.working_save import WorkingSave
from services.referrals.working_view import WorkingView

DATE_FIELDS = ("referral_date", "first_visit_date", "thank_you_sent", "outcome_note_sent")


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


@dataclass
class WorkingCopy(WorkingSave, WorkingChecks, WorkingView):
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
        return cls(
            practice_id, store_table(engine, practice_id), log_revision(engine, [practice_id])
        )

    @property
    def pending(self) -> int:
        return len(self.dirty) + len(self.deleted)

    @property
    def editor_key(self) -> str:
        """A key for the grid that changes with `rev`, so the grid never replays a delta."""
        return f"ref_editor:{self.practice_id}:{self.rev}"

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
