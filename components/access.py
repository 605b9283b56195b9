"""Sign-in (Streamlit's `st.login`, OpenID Connect) and the signed-in user's roles in the app.

With no `[auth]` section in `.streamlit/secrets.toml` nothing here asks anyone to sign in: the
app has one user, owner of everything. With it, `sign_in_gate()` (app.py's first step, before
any practice data is read) shows the sign-in page and stops until the browser holds a signed-in
identity, then looks up that email's roles (services/auth.py) and keeps them in session state.

The services find the user through `_session_actor`, registered as services/auth's resolver: a
service called from this browser session (a page, a callback, a fragment) acts as its user.

Session-state keys: "_atlas_actor" (the signed-in user's `auth.Actor`, refreshed every run).
"""

from __future__ import annotations

import logging

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from services import auth

log = logging.getLogger(__name__)
_ACTOR_KEY = "_atlas_actor"
_test_actor: auth.Actor | None = None


def set_test_actor(actor: auth.Actor | None) -> None:
    """Test hook: run the app as `actor` instead of the single local user (sign-in off only).

    AppTest cannot complete an OpenID sign-in, so page tests that need a viewer or a liaison
    set one here (and None afterwards). It is a process-wide setting that nothing in the app
    calls; with `[auth]` configured it is ignored and the signed-in identity decides."""
    global _test_actor
    _test_actor = actor


def auth_settings() -> dict | None:
    """The `[auth]` section of secrets.toml, or None (single-user mode)."""
    try:
        section = st.secrets.get("auth")
    except (FileNotFoundError, OSError, ValueError):  # no or unreadable secrets: single user
        return None
    if not section:
        return None
    return dict(section.to_dict() if hasattr(section, "to_dict") else section)


def sign_in_enabled() -> bool:
    return auth_settings() is not None


def providers() -> list[str | None]:
    """The providers to offer: named `[auth.NAME]` sections, or None for a single provider."""
    section = auth_settings() or {}
    named = [k for k, v in section.items() if isinstance(v, dict) and "client_id" in v]
    return named if named and "client_id" not in section else [None]


def _session_actor() -> auth.Actor | None:
    if get_script_run_ctx(suppress_warning=True) is None:
        return None  # a background thread: the services act as the system
    actor = st.session_state.get(_ACTOR_KEY)  # set by the gate on every run (cheap to read)
    signed_in = not sign_in_enabled()
    if not signed_in:
        # A button callback runs before the gate of its run: a sign-out or an expired identity
        # cookie since the last run must not leave the previous run's user acting.
        signed_in = bool(st.user.get("is_logged_in", False)) and (
            not isinstance(actor, auth.Actor)
            or actor.email == str(st.user.get("email") or "").strip().lower()
        )
    if isinstance(actor, auth.Actor) and signed_in:
        return actor
    return auth.ANONYMOUS if sign_in_enabled() else auth.LOCAL_USER


def _sign_in_page() -> None:
    st.title("Referral Atlas")
    st.markdown("Sign in with your clinic account to see your practice's referral network.")
    for provider in providers():
        label = "Sign in" if provider is None else f"Sign in with {provider}"
        if st.button(label, type="primary", key=f"sign_in_{provider or 'default'}"):
            st.login(provider) if provider else st.login()


def sign_in_gate(engine_getter) -> auth.Actor:  # type: ignore[no-untyped-def]
    """app.py's first step: return the acting user, or draw the sign-in page and stop.

    `engine_getter` is only called for a signed-in user, so an unauthenticated request opens
    nothing but the sign-in page."""
    auth.set_resolver(_session_actor)
    install_refusal_handler()
    if not sign_in_enabled():
        actor = _test_actor or auth.LOCAL_USER
        st.session_state[_ACTOR_KEY] = actor
        return actor
    if not st.user.get("is_logged_in", False):
        st.session_state.pop(_ACTOR_KEY, None)
        # The sign-in page is the only page: no navigation to the others, whatever the URL.
        st.navigation(
            [st.Page(_sign_in_page, title="Sign in", url_path="sign-in", default=True)],
            position="hidden",
        ).run()
        st.stop()
    email = str(st.user.get("email") or "")
    actor = auth.actor_for(engine_getter(), email)
    st.session_state[_ACTOR_KEY] = actor
    if not actor.has_access:
        st.title("Referral Atlas")
        st.warning(
            f"You are signed in as **{email or 'an account without an email'}**, which has no "
            "access to any practice yet. Ask your practice's owner to add you on the Team page."
        )
        if st.button("Sign out"):
            st.logout()
        st.stop()
    return actor


def current_actor() -> auth.Actor:
    return auth.current_actor()


def user_badge(practice_id: int | None) -> None:
    """The sidebar's "signed in as" line, the role here, and Sign out (sign-in mode only)."""
    if not sign_in_enabled():
        return
    actor = auth.current_actor()
    role = actor.role_in(practice_id)
    st.caption(f"Signed in as `{actor.email}`" + (f" · {role}" if role else ""))
    if role == auth.VIEWER:
        st.info("Read-only: you are a viewer of this practice.", icon=":material/visibility:")
    if st.button("Sign out", key="sign_out"):
        st.session_state.pop(_ACTOR_KEY, None)
        st.logout()


def _on_script_error(exc: Exception) -> bool | None:
    """A refused write that a page did not catch (often in a button callback, which runs
    before the page draws) is shown as a plain sentence instead of a traceback."""
    if isinstance(exc, auth.PermissionDenied):
        refused(exc)
        st.button("Continue", key="_refused_continue")
        return True  # handled: no traceback on screen (the server log keeps it)
    return None


def install_refusal_handler() -> None:
    """Give this browser session `_on_script_error`. Streamlit's public route to such a
    handler is `st.App(on_script_error=...)`, which changes how the app is served; under
    `streamlit run` the handler lives on the session and on each script run's context, so it
    is set on both (the session's is passed to every later run, callbacks included). Fails
    soft: without it a refusal still refuses, with Streamlit's default error display."""
    ctx = get_script_run_ctx(suppress_warning=True)
    if ctx is None:
        return
    if hasattr(ctx, "on_script_error"):
        ctx.on_script_error = _on_script_error
    try:
        from streamlit.runtime import Runtime

        manager = Runtime.instance()._session_mgr
        info = manager.get_active_session_info(ctx.session_id)
    except Exception:  # no runtime (AppTest, bare mode) or a Streamlit without these parts
        return
    if info is not None and hasattr(info.session, "_on_script_error"):
        info.session._on_script_error = _on_script_error


def refused(exc: auth.PermissionDenied) -> None:
    """What a refused write looks like on any page: a plain sentence, no traceback."""
    log.info("refused for %s: %s", auth.current_actor().email, exc)
    st.warning(f"**Not allowed.** {exc}", icon=":material/lock:")
