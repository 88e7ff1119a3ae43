"""Classroom now belongs to the classrooms app (same table, same rows). Its content type
moves with it, so the permissions that point at it, and the Instructors group's grants of
them, carry over."""

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="classrooms", model="classroom").delete()
    ContentType.objects.filter(app_label="accounts", model="classroom").update(
        app_label="classrooms"
    )


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="classrooms", model="classroom").update(
        app_label="accounts"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_instructors_unlock_logins"),
        ("classrooms", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="user",
                    name="classroom",
                    field=models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="students",
                        to="classrooms.classroom",
                        verbose_name="class",
                    ),
                ),
                migrations.DeleteModel(name="Classroom"),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
