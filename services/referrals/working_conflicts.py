"""Keeping a working copy in step with other sessions, and settling the conflicts that brings.

Another session (or page) may change or delete rows while this one holds unsaved edits. This
module reloads the rows when the log's revision moves, keeping the unsaved changes on top, turns
an edit to a row deleted elsewhere into a conflict, and settles conflicts one by one (`restore`,
`discard`) or all at once (`resolve_conflicts`). It is apart from the grid's editing and from
saving because it is the one place that decides what happens to an edit the store no longer
agrees with: no unsaved edit is dropped here without the user's say.

`WorkingConflicts` is a mixin of `services.referrals.working_copy.WorkingCopy`, which holds the
fields named below.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy.engine import Engine

from services.referrals.cells import FieldError
from services.referrals.store import Conflict, load_referrals, log_revision


def store_table(engine: Engine, practice_id: int) -> pd.DataFrame:
    """The practice's referrals as saved, indexed by row token ("id12" for referral #12)."""
    df = load_referrals(engine, practice_id)
    df.index = pd.Index(["id" + str(int(i)) for i in df["id"]], dtype=object)
    return df


class WorkingConflicts:
    # Fields of WorkingCopy this mixin reads and writes.
    practice_id: int
    work: pd.DataFrame
    revision: tuple
    dirty: set[str]
    deleted: dict[str, tuple[int, int]]
    errors: dict[str, list[FieldError]]
    conflicts: list[Conflict]
    rev: int
    new_seq: int

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
        fresh = store_table(engine, self.practice_id)
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

    def _is_deleted_elsewhere(self, token: str) -> bool:
        return any(c.ref == token and c.kind == "deleted" for c in self.conflicts)

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
