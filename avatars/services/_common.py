"""Helpers every avatar sub-domain shares: refusals, the studio's staff check and row locks."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

from avatars.engine.errors import EngineError
from avatars.errors import AvatarErrorCode
from avatars.policy import studio_required
from core.errors import ApplicationError
from core.models import User

_M = TypeVar("_M", bound=models.Model)


def refuse(message: str, code: AvatarErrorCode, status: int = 400, **extra: Any) -> ApplicationError:
    """The studio's refusal: a message the user can act on, its code, and details in `extra`."""
    return ApplicationError(message, code=code, status=status, extra=extra)


def engine_refusal(exc: EngineError) -> ApplicationError:
    """An engine's verdict on the uploader's own material (an unusable photo, say) as a 422 that keeps
    the engine's code, which names exactly what to fix; it is never a 500."""
    return ApplicationError(exc.message, code=exc.code, status=422, extra={})


def staff_only(actor: User) -> None:
    """The studio's own actions: clinicians and clinic admins only (avatars.policy)."""
    studio_required(actor)


def get_for_update(model: type[_M], actor: User, object_id: Any, what: str, **filters: Any) -> _M:
    """Lock one row of the actor's clinic; a row of another clinic is as missing as no row (404)."""
    try:
        return model._default_manager.select_for_update().get(
            clinic_id=actor.member_clinic_id, id=object_id, **filters
        )
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise refuse(f"{what} not found.", AvatarErrorCode.NOT_FOUND, 404) from None
