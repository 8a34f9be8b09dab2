from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Clinics, people and jobs"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are loaded, and
        # the registrations name models and tasks. Each app's ready() does the same, once.
        from core.registration import register

        register()
        # The embedded broker is a folder shared by the web server and the worker.
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                Path(str(folder)).mkdir(parents=True, exist_ok=True)
