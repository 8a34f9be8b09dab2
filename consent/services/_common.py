"""Helpers every consent sub-domain shares: refusals and row locks (who may act: consent.policy)."""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db import models

from consent.errors import ConsentErrorCode
from core.errors import ApplicationError

_M = TypeVar("_M", bound=models.Model)


def refuse(message: str, code: ConsentErrorCode, *, status: int = 400, **extra: Any) -> ApplicationError:
    """The consent app's refusal: a message the user can act on, its code, and details in `extra`."""
    return ApplicationError(message, code=code, status=status, extra=extra)


def get_for_update(model: type[_M], *, clinic_id: Any, object_id: Any, **filters: Any) -> _M:
    """Lock one consent row of the clinic; a row of another clinic is as missing as no row (404)."""
    try:
        return model._default_manager.select_for_update().get(clinic_id=clinic_id, id=object_id, **filters)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise refuse("Consent not found.", ConsentErrorCode.NOT_FOUND, status=404) from None
