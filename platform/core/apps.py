from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Clinics, people and jobs"

    def ready(self) -> None:
        from core.checks import register_checks

        register_checks()
        from django.conf import settings

        # The embedded broker is a folder shared by the web server and the worker.
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get(key)
            if folder:
                from pathlib import Path

                Path(folder).mkdir(parents=True, exist_ok=True)
