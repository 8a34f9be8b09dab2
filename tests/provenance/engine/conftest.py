"""Shared fixtures for the provenance engine tests: platform keys and a signed-content registry."""

from __future__ import annotations

import pytest

from provenance.engine import keys


@pytest.fixture(scope="session")
def root_ca() -> keys.CertificateAuthority:
    return keys.generate_root_ca()


@pytest.fixture(scope="session")
def harbor_identity(root_ca: keys.CertificateAuthority) -> keys.SigningIdentity:
    return keys.issue_clinic_identity(root_ca, clinic_id="clinic-harbor", clinic_name="Harbor Family Clinic")


@pytest.fixture(scope="session")
def summit_identity(root_ca: keys.CertificateAuthority) -> keys.SigningIdentity:
    return keys.issue_clinic_identity(root_ca, clinic_id="clinic-summit", clinic_name="Summit Health")
