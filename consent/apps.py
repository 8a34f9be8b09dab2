from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent and ledger"

    def ready(self) -> None:
        from consent.hooks import consent_end_handler_register
        from consent.jobs import jobs_cancel_for_consent

        consent_end_handler_register(jobs_cancel_for_consent)
