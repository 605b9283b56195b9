"""What a working copy warns about before saving: the grid's Check column and identifier hints.

Before anything is written the user should see, row by row, what the last save refused and
which unsaved notes seem to name a patient (the log must never store patient identifiers). This
module words those messages from the working copy's errors and the notes it holds, using
`services.identifiers`. It is apart from saving because it writes nothing: it is asked on every
rerun, and only tells.

`WorkingChecks` is a mixin of `services.referrals.working_copy.WorkingCopy`, which holds the
fields named below.
"""

from __future__ import annotations

import pandas as pd

from services import identifiers
from services.referrals.cells import FieldError, is_blank


class WorkingChecks:
    # Fields of WorkingCopy this mixin reads.
    work: pd.DataFrame
    dirty: set[str]
    errors: dict[str, list[FieldError]]

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
