"""The Celery application; settings come from Django's under the CELERY_ namespace."""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("candor")
app.config_from_object("django.conf:settings", namespace="CELERY")
# media: CPU-heavy video work; gpu: optional neural work, consumed only where a GPU worker runs.
app.conf.task_queues = (Queue("default"), Queue("media"), Queue("gpu"))
app.autodiscover_tasks()
