"""The selected provider's card: details, what the imported data files say about them, the
parts of its score (each with its source and year), and "Add to targets" at the top, under the
name (hidden for a read-only user).

The score shown is `score_parts` of the same row the table ranks with `score_frame`, signals
included, so the card's explanation always agrees with the table's order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import streamlit as st

from components.session import current_practice, get_engine
from components.shell import writable
from components.text import md_escape
from services import config
from services.datafiles import signals
from services.scoring import score_parts

LABEL_TEXT = {
    "opportunity": "opportunity: shares patients with PT competitors, not with you",
    "splitter": "splitter: shares some patients with you, more with competitors",
    "loyalist": "loyalist: half or more of their PT patients they share with you",
}


def _num(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


@st.cache_data(max_entries=64, show_spinner=False)
def _details(url: str, practice_id: int, npi: str, revision: int) -> signals.ProviderSignals:
    from services.practices import get_practice

    engine = get_engine()  # `url` keys the cache: the engine is the session's, for that URL
    practice = get_practice(engine, practice_id)
    assert practice is not None
    return signals.provider_signals(engine, practice, npi)


@st.cache_data(max_entries=8, show_spinner=False)
def _sources(url: str, revision: int) -> dict[str, str]:
    return signals.sources(get_engine())


def _data_lines(sig: signals.ProviderSignals) -> list[str]:
    """The provider's figures in words; "no data" where a loaded file says nothing."""
    lines = []
    if sig.volume_year is not None:
        benes = "no data (suppressed)" if sig.tot_benes is None else f"{sig.tot_benes:,}"
        srvcs = "no data" if sig.tot_srvcs is None else f"{sig.tot_srvcs:,.0f}"
        kind = f" · {md_escape(sig.medicare_type)}" if sig.medicare_type else ""
        lines.append(
            f"Medicare patients a year: **{benes}** · services: {srvcs}{kind} "
            f"(Medicare {sig.volume_year})"
        )
    if sig.procedures_year is not None:
        top = ", ".join(f"{n:,.0f} {md_escape(label)}" for label, n in sig.procedures[:3])
        total = "no data" if sig.pt_procedures is None else f"{sig.pt_procedures:,.0f}"
        lines.append(
            f"PT-generating procedures a year: **{total}** ({top}; Medicare {sig.procedures_year})"
        )
    sentence = signals.shared_sentence(sig)
    if sentence:
        label = LABEL_TEXT.get(sig.shared_label or "", "")
        lines.append(
            f"{md_escape(sentence)}  \n*{md_escape(label)}* "
            f"({md_escape(sig.shared_source)}, {sig.shared_year}: shared patients, not proven "
            "referrals)"
        )
    return lines


def provider_card(row: pd.Series, radius_mi: float, on_add: Callable[[list[str]], None]) -> None:
    parts = score_parts(
        row["specialty_group"],
        float(row["distance_mi"]),
        radius_mi,
        stage=row["stage"] if isinstance(row["stage"], str) else None,
        active=bool(row["active"]),
        tot_benes=_num(row.get("tot_benes")),
        pt_procedures=_num(row.get("pt_procedures")),
        shared_label=row.get("shared_label") if isinstance(row.get("shared_label"), str) else None,
    )
    revision = st.session_state.get("provider_revision", 0)
    url = config.database_url()
    practice = current_practice()
    sources = _sources(url, revision)
    with st.container(border=True, key="provider_card"):
        st.markdown(f"#### {md_escape(row['display_name'])}")
        # The action sits right under the name: the score parts below make the card taller
        # than a laptop window, and the button is what the user came to the card for.
        if bool(row["on_list"]):
            st.success(f"On your list · stage: {row['stage']}", icon=":material/check_circle:")
        elif writable():
            st.button(
                "Add to targets",
                key="add_to_targets",
                type="primary",
                on_click=on_add,
                args=([str(row["npi"])],),
                icon=":material/add:",
            )
        st.markdown(f"{md_escape(row['specialty'])}  \n**{md_escape(row['group_label'])}**")
        address = ", ".join(
            str(v) for v in (row["address"], row["city"], row["state"], row["zip"]) if v
        )
        approx = " (approximate: ZIP centroid)" if row["geocode_precision"] == "zip" else ""
        st.markdown(
            f"{md_escape(address)}  \n"
            f"Phone: {md_escape(row['phone'] or '—')}  \n"
            f"Distance: {row['distance_mi']:.1f} mi{approx}  \nNPI {md_escape(row['npi'])}"
        )
        if sources and practice is not None:
            lines = _data_lines(_details(url, practice.id, str(row["npi"]), revision))
            if lines:
                with st.container(key="provider_data"):
                    st.markdown("  \n".join(lines))
            else:
                st.caption("The imported data files have nothing on this provider (no data).")
        st.markdown("**Referral potential**")
        st.table(
            pd.DataFrame(parts.explain(sources), columns=["Part", "Value", "Source"]).set_index(
                "Part"
            )
        )
        st.caption(
            "Score = 100 × specialty weight × distance decay (half at the radius edge) × "
            "volume × procedures × shared patients × relationship. A part with no data is 1.00."
        )


def clear_caches() -> None:
    """After an import: the card's figures and sources are read again."""
    _details.clear()
    _sources.clear()
