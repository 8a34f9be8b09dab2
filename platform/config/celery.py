"""The Celery application; settings come from Django's under the CELERY_ namespace."""

import os
import sys
from pathlib import Path

from celery import Celery
from kombu import Queue

# `celery --workdir platform -A config` finds config and core; the domain apps live one level up.
if str(Path(__file__).resolve().parents[2]) not in sys.path:
    sys.path.append(str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("candor")
app.config_from_object("django.conf:settings", namespace="CELERY")
# media: CPU-heavy video work; gpu: optional neural work, consumed only where a GPU worker runs.
app.conf.task_queues = (Queue("default"), Queue("media"), Queue("gpu"))
app.autodiscover_tasks()
