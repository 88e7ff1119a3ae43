"""Writes about classes."""

from classrooms.models import Classroom


def ensure_classroom(*, name: str) -> tuple[Classroom, bool]:
    """The class called `name` (surrounding spaces ignored), created if there is none yet;
    returns it and whether it was created."""
    name = (name or "").strip()
    if not name:
        raise ValueError("A class needs a name.")
    return Classroom.objects.get_or_create(name=name)
