from django.apps import AppConfig


class DetectionConfig(AppConfig):
    name = "detection"
    verbose_name = "Impersonation scanner"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are loaded.
        from detection.registration import register

        register()
