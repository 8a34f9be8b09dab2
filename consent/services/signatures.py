"""Part 11 signatures: re-authentication at the moment of signing, and a hash that binds the signature
to the record, the exact text, the chosen terms and the signer."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from consent import merkle
from consent.errors import ConsentErrorCode
from consent.models import ConsentText, Signature
from consent.services._common import refuse
from core.models import User


def _reauthenticate(user: User, password: str, otp: str) -> str:
    if not user.check_password(password or ""):
        raise refuse(
            "Your password is needed to sign, and it did not match.",
            ConsentErrorCode.REAUTH_FAILED,
            status=403,
        )
    devices = TOTPDevice.objects.filter(user=user, confirmed=True)
    if not devices.exists():
        return "password"
    if not otp or not any(device.verify_token(otp.strip()) for device in devices):
        raise refuse(
            "The code from your authenticator app is needed to sign, and it did not match.",
            ConsentErrorCode.REAUTH_FAILED,
            status=403,
        )
    return "password+totp"


def signature_binding(
    *,
    record_type: str,
    record_id: Any,
    text_sha256: str,
    terms: dict[str, Any],
    signer_id: Any,
    printed_name: str,
    meaning: str,
    signed_at: datetime,
) -> str:
    """The hash a signature is bound to: the record, the exact text, the chosen terms and the signer."""
    return hashlib.sha256(
        merkle.canonical_json(
            {
                "record_type": record_type,
                "record_id": str(record_id),
                "text_sha256": text_sha256,
                "terms": terms,
                "signer": str(signer_id),
                "printed_name": printed_name,
                "meaning": meaning,
                "signed_at": int(signed_at.timestamp() * 1000),
            }
        )
    ).hexdigest()


def signature_create(
    *,
    signer: User,
    password: str,
    otp: str,
    record_type: str,
    record_id: uuid.UUID,
    text: ConsentText,
    terms: dict[str, Any],
    meaning: str,
) -> Signature:
    """Re-authenticate the signer, then create their signature bound to this record, text and terms."""
    method = _reauthenticate(signer, password, otp)
    signed_at = timezone.now()
    binding = signature_binding(
        record_type=record_type,
        record_id=record_id,
        text_sha256=text.sha256,
        terms=terms,
        signer_id=signer.pk,
        printed_name=signer.printed_name,
        meaning=meaning,
        signed_at=signed_at,
    )
    return Signature.objects.create(
        clinic_id=signer.member_clinic_id,
        signer=signer,
        printed_name=signer.printed_name,
        meaning=meaning,
        signed_at=signed_at,
        record_type=record_type,
        record_id=record_id,
        text_sha256=text.sha256,
        binding_sha256=binding,
        reauthenticated_with=method,
    )


def signature_is_valid(
    *, signature: Signature, record_type: str, record_id: Any, text: ConsentText, terms: dict[str, Any]
) -> bool:
    """Recompute the binding: false if the signature was moved, the text changed, or the terms changed."""
    if hashlib.sha256(text.body.encode()).hexdigest() != signature.text_sha256:
        return False
    expected = signature_binding(
        record_type=record_type,
        record_id=record_id,
        text_sha256=signature.text_sha256,
        terms=terms,
        signer_id=signature.signer_id,
        printed_name=signature.printed_name,
        meaning=signature.meaning,
        signed_at=signature.signed_at,
    )
    return expected == signature.binding_sha256 and str(signature.record_id) == str(record_id)
