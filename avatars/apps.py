from django.apps import AppConfig


class AvatarsConfig(AppConfig):
    name = "avatars"
    verbose_name = "Avatar studio"

    def ready(self) -> None:
        from avatars.engine.errors import EngineError, RenderCancelled
        from avatars.services import statement_check_queue, videos_withdraw_for_consent
        from avatars.tasks import enrollment_analyze, statement_check, video_render
        from consent.hooks import consent_end_handler_register, evidence_checker_register
        from core.jobs import CANCELLATION_ERRORS, USER_FACING_ERRORS
        from core.models import JobKind
        from core.tasks import task_register

        task_register(JobKind.RENDER, video_render)
        task_register(JobKind.ENROLLMENT, enrollment_analyze)
        task_register(JobKind.STATEMENT_CHECK, statement_check)
        consent_end_handler_register(videos_withdraw_for_consent)
        evidence_checker_register(statement_check_queue)
        # A cancel raised inside the engine is still a cancel, and engine errors are written for people.
        CANCELLATION_ERRORS.insert(0, RenderCancelled)
        USER_FACING_ERRORS.append(EngineError)
