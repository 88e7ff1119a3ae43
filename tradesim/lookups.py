"""Lookups the project adds to Django's."""

from copy import copy

from django.db.models import IntegerField
from django.db.models.lookups import In


@IntegerField.register_lookup
class IntegerFieldIn(In):
    """`in` on an integer column leaves out the values the column cannot hold, as Django's
    exact and comparison lookups on integers already do: no row has them, and SQLite
    cannot even bind one past 64 bits (a 500 for a form's multiple choice of
    "99999999999999999999", an admin action on such a row)."""

    def process_rhs(self, compiler, connection):
        if self.rhs_is_direct_value():
            low, high = connection.ops.integer_field_range(
                self.lhs.output_field.get_internal_type()
            )
            held = [
                value
                for value in self.rhs
                if not isinstance(value, int)
                or ((low is None or value >= low) and (high is None or value <= high))
            ]
            if len(held) != len(self.rhs):
                within = copy(self)
                within.rhs = held
                return super(IntegerFieldIn, within).process_rhs(compiler, connection)
        return super().process_rhs(compiler, connection)
