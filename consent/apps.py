from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and ledger"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are loaded.
        from consent.registration import register

        register()
