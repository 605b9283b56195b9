"""The map's provider table: which rows, in which order, and how each cell reads.

Registry data comes upper-case ("DENVER", "SMITH, JOHN"), phones as bare digits and missing
values as None; the table shows title case, (303) 555-0100 and blank cells. Providers not yet
on the list come first (they are what the map is for); the ones already on it are shown only
on request, after the others.
"""

from __future__ import annotations

import re

import pandas as pd

#: Tokens kept upper-case when a shouting name is put in title case.
_KEEP_UPPER = frozenset(
    [
        "MD",
        "DO",
        "DPT",
        "PT",
        "PA",
        "PC",
        "LLC",
        "PLLC",
        "LLP",
        "NP",
        "APRN",
        "DC",
        "OD",
        "DPM",
        "ATC",
        "OT",
        "OTR",
        "CNP",
        "FNP",
        "PHD",
        "II",
        "III",
        "IV",
        "USA",
        "PMR",
    ]
)
_WORD = re.compile(r"[A-Za-z]+")

TABLE_COLUMNS = [
    "npi", "name", "group", "specialty", "distance_mi", "score", "stage", "new_since", "city",
    "phone",
]  # fmt: skip


def title_case(text: object) -> str:
    """'DENVER' -> 'Denver', 'O'BRIEN-SMITH PT LLC' -> 'O'Brien-Smith PT LLC'; text that is
    already mixed case is left alone (someone typed it that way); missing -> ''."""
    if text is None or (isinstance(text, float) and text != text) or text is pd.NA:
        return ""
    text = str(text).strip()
    if not text or text != text.upper():
        return text

    def word(match: re.Match[str]) -> str:
        w = match.group(0)
        # one letter before an apostrophe (O'BRIEN, D'ANGELO) is a prefix, not a word
        if len(w) == 1 and text[match.end() : match.end() + 1] in ("'", "’"):
            return w
        if match.start() > 0 and text[match.start() - 1] in ("'", "’") and len(w) == 1:
            return w.lower()  # DON'T -> Don't
        return w if w in _KEEP_UPPER else w[0] + w[1:].lower()

    return _WORD.sub(word, text)


def format_phone(text: object) -> str:
    """US numbers as (303) 555-0100 (a leading 1 dropped); anything else as given; None -> ''."""
    if text is None or (isinstance(text, float) and text != text) or text is pd.NA:
        return ""
    digits = re.sub(r"\D", "", str(text))
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        return str(text).strip()
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def _text(series: pd.Series) -> list[str]:
    return ["" if v is None or v is pd.NA or v != v else str(v) for v in series.tolist()]


def table_frame(near: pd.DataFrame, show_all: bool = False) -> pd.DataFrame:
    """The rows to show: off-list providers in the map's order (best first), then, when
    `show_all`, the ones already on the list. Cells are display-ready; score stays numeric
    (drawn as a bar), distance numeric (sortable)."""
    frame = near if show_all else near.loc[~near["on_list"].astype(bool)]
    frame = frame.assign(_on=frame["on_list"].astype(bool)).sort_values(
        "_on", kind="mergesort"
    )  # stable: keeps best-first inside each part
    name = [title_case(n) for n in frame["name"].tolist()] if "name" in frame else []
    cred = _text(frame["credential"]) if "credential" in frame else [""] * len(frame)
    display = [f"{n}, {c}" if c else n for n, c in zip(name, cred, strict=True)]
    out = pd.DataFrame(
        {
            "npi": frame["npi"].astype(str).str.zfill(10).tolist(),
            "name": display,
            "group": _text(frame["group_label"]),
            "specialty": _text(frame["specialty"]),
            "distance_mi": frame["distance_mi"].astype(float).tolist(),
            "score": frame["score"].astype(float).tolist(),
            "stage": _text(frame["stage"]),
            "new_since": [f"new since {d}" if d else "" for d in _text(frame["new_since"])]
            if "new_since" in frame
            else [""] * len(frame),
            "city": [title_case(c) for c in frame["city"].tolist()],
            "phone": [format_phone(p) for p in frame["phone"].tolist()],
        }
    )
    return out[TABLE_COLUMNS].reset_index(drop=True)


def names_for(near: pd.DataFrame, npis: list[str], limit: int = 5) -> str:
    """'Dr A, Dr B and 3 more': whom a bulk action will change, named before it acts."""
    rows = near.set_index(near["npi"].astype(str))
    names = []
    for n in npis:
        if n not in rows.index:
            names.append(n)
            continue
        row = rows.loc[n]
        cred = row.get("credential")
        name = title_case(row["name"])
        names.append(f"{name}, {cred}" if isinstance(cred, str) and cred else name)
    if not names:
        return ""
    if len(names) > limit:
        return ", ".join(names[:limit]) + f" and {len(names) - limit} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]
