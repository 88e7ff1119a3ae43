"""Template tags of the instructors' console."""

from django import template

from classrooms.models import Classroom

register = template.Library()


@register.simple_tag
def classes_of(user) -> list[Classroom]:
    """The classes `user` runs, by name (a superuser: every class), for the admin index's
    links to each class's overview. One query."""
    classes = Classroom.objects.order_by("name")
    if not user.is_superuser:
        classes = classes.filter(owners=user)
    return list(classes.only("pk", "name"))
