from django.apps import AppConfig


class ProvenanceConfig(AppConfig):
    name = "provenance"
    verbose_name = "Provenance"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are loaded.
        from provenance.registration import register

        register()
