"""The ledger on the real database: append-only triggers, tamper detection, proofs, signed heads."""

from __future__ import annotations

import threading
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, connections, transaction

from consent import merkle
from consent.ledger import (
    ledger_append,
    ledger_consistency_proof,
    ledger_heads_export,
    ledger_inclusion_proof,
    ledger_sign_head,
    ledger_signing_key,
    ledger_verify,
)
from consent.models import LedgerEntry, SignedTreeHead
from consent.triggers import install, uninstall


def _append(n: int, clinic_id: Any = None) -> list[LedgerEntry]:
    return [
        ledger_append(
            event_type="test.event",
            clinic_id=clinic_id,
            object_type="thing",
            object_id=f"o{i}",
            data={"i": i},
        )
        for i in range(n)
    ]


def test_appends_get_gapless_sequence_numbers_and_canonical_entries(db: None) -> None:
    entries = _append(5)
    assert [e.seq for e in entries] == [0, 1, 2, 3, 4]
    entry = LedgerEntry.objects.get(seq=3)
    assert entry.entry == merkle.canonical_json(__import__("json").loads(entry.entry)).decode()
    assert entry.leaf_hash == merkle.leaf_hash(entry.entry.encode()).hex()


def test_floats_are_refused_in_entries(db: None) -> None:
    with pytest.raises((TypeError, ValueError)):
        ledger_append(event_type="test.float", clinic_id=None, data={"score": 0.5})
    assert LedgerEntry.objects.count() == 0


def test_the_database_refuses_update_and_delete(db: None) -> None:
    _append(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(seq=0).update(event_type="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(seq=1).delete()
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE consent_ledgerentry SET entry = 'x' WHERE seq = 0")
    assert LedgerEntry.objects.count() == 2


def test_signed_heads_are_append_only_too(db: None) -> None:
    _append(1)
    ledger_sign_head()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        SignedTreeHead.objects.update(root_hash="00" * 32)


def test_ledger_verify_names_an_entry_altered_behind_the_triggers_back(db: None) -> None:
    _append(6)
    ledger_sign_head()
    uninstall(connection)  # what an attacker with database-owner rights could do
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE consent_ledgerentry SET entry = REPLACE(entry, '\"i\":4', '\"i\":9') WHERE seq = 4"
            )
    finally:
        install(connection)
    report = ledger_verify()
    assert not report.ok and report.first_bad_sequence == 4
    out = StringIO()
    with pytest.raises(SystemExit) as exit_code:
        call_command("ledger_verify", stdout=out)
    assert exit_code.value.code == 1
    assert "entry 4" in out.getvalue()


def test_a_rewritten_entry_with_a_recomputed_hash_is_caught_by_the_signed_head(db: None) -> None:
    _append(4)
    ledger_sign_head()
    forged = LedgerEntry.objects.get(seq=2).entry.replace('"i":2', '"i":7')
    uninstall(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE consent_ledgerentry SET entry = %s, leaf_hash = %s WHERE seq = 2",
                [forged, merkle.leaf_hash(forged.encode()).hex()],
            )
    finally:
        install(connection)
    report = ledger_verify()
    assert not report.ok
    assert any(p.kind == "head_root_mismatch" for p in report.problems)


def test_a_clean_ledger_verifies_with_the_command(db: None) -> None:
    _append(3)
    ledger_sign_head()
    out = StringIO()
    call_command("ledger_verify", stdout=out)
    assert "OK" in out.getvalue() and "3 entries" in out.getvalue()


def test_inclusion_and_consistency_proofs_verify_against_signed_heads(db: None) -> None:
    _append(7)
    old_head = ledger_sign_head()
    _append(6)
    new_head = ledger_sign_head()
    proof = ledger_inclusion_proof(seq=5)
    assert proof.tree_size == 13
    assert merkle.verify_inclusion(
        bytes.fromhex(proof.leaf_hash),
        5,
        13,
        [bytes.fromhex(p) for p in proof.path],
        bytes.fromhex(new_head.root_hash),
    )
    consistency = ledger_consistency_proof(old_size=old_head.tree_size, new_size=new_head.tree_size)
    assert merkle.verify_consistency(
        7,
        13,
        bytes.fromhex(old_head.root_hash),
        bytes.fromhex(new_head.root_hash),
        [bytes.fromhex(p) for p in consistency["path"]],
    )


def test_exported_heads_verify_with_the_published_key(db: None) -> None:
    _append(2)
    ledger_sign_head()
    exported = ledger_heads_export()
    key = merkle.load_public_key_pem(exported["public_key_pem"].encode())
    heads = [merkle.SignedTreeHead.from_dict(h) for h in exported["heads"]]
    assert heads and all(merkle.verify_tree_head(key, h) for h in heads)
    assert exported["key_id"] == merkle.key_id(ledger_signing_key().public_key())


def test_no_head_is_signed_when_the_log_has_not_grown(db: None) -> None:
    _append(1)
    assert ledger_sign_head() is not None
    assert ledger_sign_head() is None


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_writers_produce_a_gapless_verifiable_log() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "concurrent writers need PostgreSQL (SQLite serializes whole-database writes); CI runs it"
        )
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(40):
                with transaction.atomic():
                    ledger_append(
                        event_type="test.concurrent", clinic_id=None, object_id=f"w{n}-{i}", data={"w": n}
                    )
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(320))
    assert ledger_verify().ok
