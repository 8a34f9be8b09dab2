# Enrollment deletion (issue 15 item 2): a deleted enrollment keeps its row without biometric data.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("avatars", "0003_anonymization"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="enrollment",
            name="deleted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="deleted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="enrollment",
            name="deletion_reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("deleted_by_clinician", "Deleted by the clinician"),
                    ("deleted_by_clinic_admin", "Deleted by a clinic admin on the clinician's behalf"),
                    ("retention_expired", "Retention period ended"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="enrollment",
            name="status",
            field=models.CharField(
                choices=[
                    ("analyzing", "Analyzing"),
                    ("awaiting_signoff", "Waiting for the clinician's sign-off"),
                    ("ready", "Ready"),
                    ("rejected", "Needs re-recording"),
                    ("deleted", "Deleted: biometric data destroyed"),
                ],
                default="analyzing",
                max_length=16,
            ),
        ),
    ]
