"""A stock-presenter render made once per module for the provenance tests that only read it.

A render takes 13-14 s; tests that verify copies of it (re-encoded, bit-flipped, face-pasted) never
change the stored file, so a module renders it once. The rows behind it (both clinics, their texts,
the video, its provenance record and ledger entries) are made inside one transaction around the
module, rolled back after its last test; each test's own transaction is a savepoint inside it, so
whatever a test changes (a withdrawal, a publication) is still undone after that test. Each test
gets its own copy of the stored media in its own MEDIA_ROOT.

A module that uses `stock_render` overrides `clinic_a` and `clinic_b` with `rendered_once`'s, so
that `texts` and `studio` are the clinics the video belongs to; such a module holds only tests that
leave the stored file as it is.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


@dataclass(frozen=True)
class RenderedOnce:
    clinic_a: Any
    clinic_b: Any
    video_id: Any
    media: Path  # the MEDIA_ROOT the render was stored under


@pytest.fixture(scope="module")
def rendered_once(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RenderedOnce]:
    from django.db import transaction
    from django.test import TestCase, override_settings

    from consent.defaults import consent_defaults_ensure
    from consent.ledger import ledger_tree_reset
    from provenance.index import fingerprint_index_reset
    from tests.avatars.test_studio import _stock_video
    from tests.support import ClinicPeople

    media = tmp_path_factory.mktemp("rendered-once")
    with django_db_blocker.unblock():
        around_module = transaction.atomic()
        around_module.__enter__()
    try:
        with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=media):
            ledger_tree_reset()
            fingerprint_index_reset()
            clinic_a, clinic_b = ClinicPeople("alpha"), ClinicPeople("beta")
            consent_defaults_ensure(actor=clinic_a.admin)
            consent_defaults_ensure(actor=clinic_b.admin)
            video = _stock_video(clinic_a, TestCase.captureOnCommitCallbacks)
            assert video.video_key, video.job.error_message
        yield RenderedOnce(clinic_a=clinic_a, clinic_b=clinic_b, video_id=video.id, media=media)
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            around_module.__exit__(None, None, None)
        # The caches may hold the rolled-back rows.
        ledger_tree_reset()
        fingerprint_index_reset()


@pytest.fixture
def stock_render(rendered_once: RenderedOnce, settings: Any, db: None) -> Any:
    """The module's stock-presenter video of clinic alpha (rendered, signed, registered; in review),
    its files copied into this test's MEDIA_ROOT."""
    from avatars.models import Video

    shutil.copytree(rendered_once.media, settings.MEDIA_ROOT, dirs_exist_ok=True)
    return Video.objects.get(id=rendered_once.video_id)
