"""Lookups the project adds to Django's.

Django's exact and comparison lookups on an integer column treat a value the column
cannot hold as matching no row. Its `in`, and its exact on a relation to an integer key
(a OneToOneField primary key), send the value on: SQLite cannot even bind one past 64
bits, and the request fails (a form's multiple choice of "99999999999999999999", an
admin page for such a row). These do as the others do."""

from copy import copy

from django.core.exceptions import EmptyResultSet, FieldError
from django.db.models import ForeignObject, IntegerField
from django.db.models.fields.related_lookups import RelatedExact, RelatedIn
from django.db.models.lookups import In


def _column_range(field, connection) -> tuple | None:
    """The (low, high) the integer column behind `field` holds (a relation's target
    column for a relation); None if it is not an integer column."""
    if field.is_relation:
        try:
            field = field.target_field
        except FieldError:  # a relation over several columns
            return None
    if not isinstance(field, IntegerField):
        return None
    return connection.ops.integer_field_range(field.get_internal_type())


def _holds(value, bounds) -> bool:
    if bounds is None or not isinstance(value, int):
        return True
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


class _LeavesOutValuesNoColumnHolds:
    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            bounds = _column_range(self.lhs.output_field, connection)
            held = [value for value in self.rhs if _holds(value, bounds)]
            if len(held) != len(self.rhs):
                within = copy(self)
                within.rhs = held
                return super(_LeavesOutValuesNoColumnHolds, within).process_rhs(
                    compiler, connection
                )
        return super().process_rhs(compiler, connection)


@IntegerField.register_lookup
class IntegerFieldIn(_LeavesOutValuesNoColumnHolds, In):
    pass


@ForeignObject.register_lookup
class RelatedIntegerIn(_LeavesOutValuesNoColumnHolds, RelatedIn):
    pass


@ForeignObject.register_lookup
class RelatedIntegerExact(RelatedExact):
    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value() and not _holds(
            self.rhs, _column_range(self.lhs.output_field, connection)
        ):
            raise EmptyResultSet
        return super().process_rhs(compiler, connection)
