"""Saving a working copy's batch through the store, and the sentence that reports it.

Saving turns the working table's pending rows into the store's added / edited / deleted lists,
writes them in one `store.save_changes` call, and folds the outcome back in: saved rows stop
being pending, rows the store refused keep their messages, and its conflicts join those still
waiting. It is apart from editing and from conflict handling because it is the only step that
writes, and its bookkeeping of what the store accepted is its own.

`WorkingSave` is a mixin of `services.referrals.working_copy.WorkingCopy`, which holds the fields
it uses. It builds on `WorkingConflicts`: a save skips rows deleted elsewhere and ends with a
reload.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from services.referrals.cells import FIELDS, is_blank
from services.referrals.store import Edit, SaveResult, save_changes
from services.referrals.working_conflicts import WorkingConflicts


class WorkingSave(WorkingConflicts):
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
