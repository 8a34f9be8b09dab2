from django.apps import AppConfig


class AvatarsConfig(AppConfig):
    name = "avatars"
    verbose_name = "Avatar studio"

    def ready(self) -> None:
        # Imported here, not at the top: Django imports this module before any models are loaded.
        from avatars.registration import register

        register()
