"""Who is acting, and what their role lets them do, practice by practice.

Roles are per practice and ranked: a viewer reads (maps, progress, meeting mode); a liaison also
writes targets, activities, referrals and letter templates; an owner also edits the practice
itself and its team. Instance owners (the `REFERRAL_ATLAS_OWNERS` setting) are owners of every
practice and the only ones who may create practices: that is how the first owner exists before
anyone could add them.

The rules are enforced where the data is written, not in the pages: `services/audit.py` hooks
the engine so every write to a practice's records checks `current_actor()` here, and a forged
call straight to a service function is refused with PermissionDenied like a click would be.

Who the current actor is:
- code that states it (`acting_as(actor)`: tests, scripts, the demo seed) wins;
- else the resolver the web app registers (`set_resolver`), which answers for the signed-in
  browser session it runs in, and None when the code runs outside any session;
- else, and for code outside any session (background jobs, scripts, tests), `SYSTEM`. Without
  sign-in configured the app installs no resolver, so everything acts as the single local user.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services import config

OWNER, LIAISON, VIEWER = "owner", "liaison", "viewer"
ROLES = (OWNER, LIAISON, VIEWER)
_RANK = {VIEWER: 1, LIAISON: 2, OWNER: 3}
ROLE_HELP = {
    OWNER: "everything, including the practice's settings, its team and the history",
    LIAISON: "targets, activities, referrals and letters",
    VIEWER: "read-only: maps, progress and meeting mode",
}
OWNERS_SETTING = "REFERRAL_ATLAS_OWNERS"
_EMAIL = re.compile(r"[^@\s,;\[\]'\"]+@[^@\s,;\[\]'\"]+\.[^@\s,;\[\]'\"]+")


class PermissionDenied(PermissionError):
    """The current actor's role does not allow this; the message is meant for the user."""


@dataclass(frozen=True)
class Actor:
    """A person (or the system) acting on the data. `roles` maps practice id -> role;
    `everywhere` is a role held in every practice, present and future (instance owners)."""

    email: str
    roles: Mapping[int, str] = field(default_factory=lambda: MappingProxyType({}))
    everywhere: str | None = None

    def role_in(self, practice_id: int | None) -> str | None:
        if self.everywhere:
            return self.everywhere
        if practice_id is None:
            return None
        return self.roles.get(int(practice_id))

    def can(self, role: str, practice_id: int | None) -> bool:
        held = self.role_in(practice_id)
        return held is not None and _RANK[held] >= _RANK[role]

    @property
    def is_instance_owner(self) -> bool:
        return self.everywhere == OWNER

    @property
    def has_access(self) -> bool:
        return bool(self.everywhere or self.roles)


#: The one user of a single-user install (no sign-in configured): owner of everything.
LOCAL_USER = Actor("local user", everywhere=OWNER)
#: Code running outside any browser session: background jobs, scripts, the demo seed, tests.
SYSTEM = Actor("system", everywhere=OWNER)
#: A browser session that has not signed in: no rights at all.
ANONYMOUS = Actor("anonymous")

_current: ContextVar[Actor | None] = ContextVar("referral_atlas_actor", default=None)
_resolver: Callable[[], Actor | None] | None = None


def set_resolver(resolver: Callable[[], Actor | None] | None) -> None:
    """Register how to find the actor of the running browser session (None: no sign-in)."""
    global _resolver
    _resolver = resolver


def set_actor(actor: Actor | None) -> None:
    """Fix the actor for the rest of this thread's (or task's) work."""
    _current.set(actor)


@contextmanager
def acting_as(actor: Actor) -> Iterator[Actor]:
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def current_actor() -> Actor:
    actor = _current.get()
    if actor is not None:
        return actor
    if _resolver is not None:
        resolved = _resolver()
        if resolved is not None:
            return resolved
    return SYSTEM


def in_session() -> bool:
    """True when the current actor is a browser session's user (not the system)."""
    return current_actor() is not SYSTEM


def require(role: str, practice_id: int | None, actor: Actor | None = None) -> Actor:
    """Return the actor if it holds at least `role` in the practice, else PermissionDenied.
    `practice_id=None` means "a new practice": only instance owners may create one."""
    actor = actor or current_actor()
    if actor.can(role, practice_id):
        return actor
    if practice_id is None:
        raise PermissionDenied("Only an instance owner can create a practice.")
    held = actor.role_in(practice_id)
    if held is None:
        raise PermissionDenied("You have no access to this practice.")
    raise PermissionDenied(
        f"Your role in this practice is {held} ({ROLE_HELP[held]}); this needs {role}."
    )


def visible_practice_ids(actor: Actor | None = None) -> set[int] | None:
    """The practices the actor may see; None means all of them."""
    actor = actor or current_actor()
    return None if actor.everywhere else set(actor.roles)


# --- users and roles --------------------------------------------------------------------------


def instance_owners() -> set[str]:
    """The emails in `REFERRAL_ATLAS_OWNERS` (environment, else secrets.toml; a list or a
    comma-separated string), lower-cased."""
    raw = config.setting(OWNERS_SETTING) or ""
    return {m.lower() for m in _EMAIL.findall(raw)}


def normalize_email(email: str) -> str:
    text = (email or "").strip().lower()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise ValueError(f"{email!r} is not an email address.")
    return text


def actor_for(engine: Engine, email: str | None) -> Actor:
    """The actor for a signed-in email: an instance owner, or the roles the team pages gave."""
    from services import db

    if not email:
        return ANONYMOUS
    email = email.strip().lower()
    if email in instance_owners():
        return Actor(email, everywhere=OWNER)
    u = db.app_user
    with engine.connect().execution_options(audit_internal=True) as conn:
        rows = conn.execute(sa.select(u.c.practice_id, u.c.role).where(u.c.email == email)).all()
    return Actor(email, roles=MappingProxyType({int(p): r for p, r in rows}))


@dataclass(frozen=True)
class TeamMember:
    id: int
    email: str
    role: str


def list_team(engine: Engine, practice_id: int) -> list[TeamMember]:
    """The practice's users (instance owners are not listed: they hold every practice)."""
    from services import db

    require(OWNER, practice_id)
    u = db.app_user
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(u.c.id, u.c.email, u.c.role)
            .where(u.c.practice_id == practice_id)
            .order_by(u.c.email)
        ).all()
    return [TeamMember(int(r.id), r.email, r.role) for r in rows]


def set_role(engine: Engine, practice_id: int, email: str, role: str) -> TeamMember:
    """Add a user to the practice, or change their role. Owners only (checked on write)."""
    from services import db

    email = normalize_email(email)
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    u = db.app_user
    with engine.begin() as conn:
        existing = conn.execute(
            sa.select(u.c.id).where(u.c.practice_id == practice_id, u.c.email == email)
        ).scalar()
        if existing is None:
            new_id = conn.execute(
                u.insert().values(
                    practice_id=practice_id, email=email, role=role, created_at=db.utcnow()
                )
            ).inserted_primary_key[0]
            return TeamMember(int(new_id), email, role)
        conn.execute(u.update().where(u.c.id == existing).values(role=role))
        return TeamMember(int(existing), email, role)


def remove_member(engine: Engine, practice_id: int, email: str) -> bool:
    """Take a user off the practice's team; False if they were not on it."""
    from services import db

    u = db.app_user
    with engine.begin() as conn:
        done = conn.execute(
            u.delete().where(u.c.practice_id == practice_id, u.c.email == email.strip().lower())
        )
    return done.rowcount > 0
