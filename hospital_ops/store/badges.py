"""Badge credentials of a task's drawer: one argon2 hash per badge and task end, never the badge.

A task submitted over ROS may name badges (sender, receiver, pharmacist on duty) that open its
drawer instead of, or besides, a PIN. The store keeps only what a robot needs to check a badge
held to its reader: an argon2 hash of the badge id (made like a PIN's hash, by
``Store._hash_secret``), per end of the delivery (``pickup`` / ``dropoff``). ``Store.add_task``
writes them with the task; ``Store.task_badge_hashes`` reads them back for the scheduler, which
hands them to the robot with the leg (``robots.credentials.badge_matches`` checks them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from hospital_ops.store.errors import InvalidInputError
from hospital_ops.store.models import Base

#: The ends of a delivery a badge may open the drawer at.
BADGE_ENDS = ("pickup", "dropoff")


class TaskBadgeRow(Base):
    """One badge that opens a task's drawer at one end, as an argon2 hash (PHC string)."""

    __tablename__ = "task_badges"
    __table_args__ = (CheckConstraint("end_kind IN ('pickup', 'dropoff')", name="end_kind"),)

    task_id: Mapped[str] = mapped_column(String(64), ForeignKey("tasks.id"), primary_key=True)
    #: "pickup" or "dropoff" (``end`` is a reserved word in SQL).
    end_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    badge_hash: Mapped[str] = mapped_column(String(255), primary_key=True)


#: At most this many badges per task end, each at most this long (a robot checks a badge against
#: every hash of the end, so the list stays short).
MAX_BADGES_PER_END = 16
MAX_BADGE_CHARS = 128


def check_badges(badges: Iterable[str] | Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """End → the distinct badge ids that open the drawer there. A plain iterable of badge ids
    means both ends; a mapping names them (``{"pickup": [...], "dropoff": [...]}``). Raises
    ``InvalidInputError`` naming the field (never echoing a badge)."""
    if isinstance(badges, str):
        raise InvalidInputError("badges: expected a list of badge ids, not one string")
    if isinstance(badges, Mapping):
        unknown = sorted(str(k) for k in badges if k not in BADGE_ENDS)
        if unknown:
            raise InvalidInputError(f"badges: unknown task end(s) {', '.join(unknown)} (expected pickup, dropoff)")
        by_end = {str(end): badges[end] for end in badges}
    else:
        both = list(badges)
        by_end = {end: both for end in BADGE_ENDS}
    out: dict[str, tuple[str, ...]] = {}
    for end, ids in by_end.items():
        if isinstance(ids, str):
            raise InvalidInputError(f"badges.{end}: expected a list of badge ids, not one string")
        seen: dict[str, None] = {}
        for i, badge in enumerate(ids):
            if not isinstance(badge, str) or not badge.strip():
                raise InvalidInputError(f"badges.{end}[{i}]: must be a non-empty string")
            if len(badge) > MAX_BADGE_CHARS or not badge.isprintable():
                raise InvalidInputError(f"badges.{end}[{i}]: must be at most {MAX_BADGE_CHARS} printable characters")
            seen[badge] = None
        if len(seen) > MAX_BADGES_PER_END:
            raise InvalidInputError(f"badges.{end}: at most {MAX_BADGES_PER_END} badges per task end")
        if seen:
            out[end] = tuple(seen)
    return out
