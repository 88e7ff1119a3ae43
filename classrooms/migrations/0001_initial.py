"""The Classroom model moves here from accounts, keeping its table (accounts_classroom) and
its rows: this migration changes Django's picture of the models, not the database."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("accounts", "0003_instructors_unlock_logins")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Classroom",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100, unique=True)),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now),
                        ),
                    ],
                    options={
                        "verbose_name": "class",
                        "verbose_name_plural": "classes",
                        "ordering": ["name"],
                        "db_table": "accounts_classroom",
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
