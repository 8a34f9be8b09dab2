"""Forgeries behind the triggers' back, by someone with database-owner rights: each is named by
`ledger_verify` down to the entry, on the test database (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from consent import merkle
from consent.ledger import ledger_append, ledger_sign_head, ledger_verify
from consent.models import LedgerEntry
from consent.selectors import ledger_entry_list
from consent.triggers import install, uninstall
from tests.support import signed_in_client

Kind = merkle.LogProblemKind


def _append(n: int, clinic: Any, start: int = 0) -> None:
    for i in range(start, start + n):
        ledger_append(
            event_type="likeness_consent.signed",
            clinic_id=clinic.clinic.id,
            object_type="likeness_consent",
            object_id=f"c{i}",
            actor=clinic.clinician,
            subject=clinic.clinician,
            data={"i": i},
        )


def _as_superuser(sql: str, params: list[Any]) -> None:
    """Run `sql` with the append-only triggers lifted, as a database owner can."""
    uninstall(connection)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        install(connection)


def _rewrite_entry(seq: int, old: str, new: str) -> None:
    """Change an entry's JSON and store the matching leaf hash, so the row checks out by itself."""
    forged = LedgerEntry.objects.get(seq=seq).entry.replace(old, new)
    assert forged != LedgerEntry.objects.get(seq=seq).entry
    _as_superuser(
        "UPDATE consent_ledgerentry SET entry = %s, leaf_hash = %s WHERE seq = %s",
        [forged, merkle.leaf_hash(forged.encode()).hex(), seq],
    )


def _command_output() -> str:
    out = StringIO()
    with pytest.raises(SystemExit) as exit_code:
        call_command("ledger_verify", stdout=out)
    assert exit_code.value.code == 1
    return out.getvalue()


def test_forged_indexed_columns_are_named_by_ledger_verify(clinic_a: Any, clinic_b: Any) -> None:
    """Issue 9 finding 14: UPDATE ... SET event_type='consent.forged', subject_id='999', clinic_id=<another
    clinic> WHERE seq=5 passed ledger_verify, and the entry moved to the other clinic's console."""
    _append(8, clinic_a)
    ledger_sign_head()
    clinic_column = LedgerEntry._meta.get_field("clinic_id")
    _as_superuser(
        "UPDATE consent_ledgerentry SET event_type = %s, subject_id = %s, clinic_id = %s WHERE seq = 5",
        ["consent.forged", "999", clinic_column.get_db_prep_value(clinic_b.clinic.id, connection)],
    )
    # What the forgery achieves: the other clinic's console now lists the entry.
    assert ledger_entry_list(user=clinic_b.compliance).filter(seq=5).exists()

    report = ledger_verify()
    assert not report.ok and report.first_bad_sequence == 5
    first = report.first_problem
    assert first is not None and first.kind is Kind.COLUMN_MISMATCH
    for shown in ("event_type 'consent.forged'", "subject_id '999'", str(clinic_b.clinic.id)):
        assert shown in first.message
    assert "FAILED at entry 5" in _command_output()
    # The other clinic's compliance officer is told where the ledger stopped matching.
    page = signed_in_client(clinic_b.compliance).get("/compliance/").content.decode()
    assert "FAILED" in page and "at entry #5" in page


def test_a_column_changed_on_any_entry_is_caught_even_with_no_signed_head(clinic_a: Any) -> None:
    """Issue 9 finding 14: the columns are not hashed; each must equal the hashed entry's value."""
    _append(4, clinic_a)
    for column, value in (("object_id", "elsewhere"), ("actor_id", "1"), ("object_type", "video")):
        original = LedgerEntry.objects.values_list(column, flat=True).get(seq=2)
        _as_superuser(f"UPDATE consent_ledgerentry SET {column} = %s WHERE seq = 2", [value])
        report = ledger_verify()
        assert report.first_bad_sequence == 2 and f"{column} '{value}'" in (report.reason or ""), column
        _as_superuser(f"UPDATE consent_ledgerentry SET {column} = %s WHERE seq = 2", [original])
        assert ledger_verify().ok
    # Backdating moves an entry in and out of the console's time searches.
    backdated = datetime(2020, 1, 1, tzinfo=UTC)
    _as_superuser(
        "UPDATE consent_ledgerentry SET created_at = %s WHERE seq = 3",
        [LedgerEntry._meta.get_field("created_at").get_db_prep_value(backdated, connection)],
    )
    report = ledger_verify()
    assert report.first_bad_sequence == 3 and "created_at 1577836800000" in (report.reason or "")


def test_an_entry_rewritten_with_its_leaf_hash_is_named_not_just_the_head(clinic_a: Any) -> None:
    """Issue 9 finding 14: with an entry's JSON and leaf hash both rewritten, the check reported only
    "FAILED at a signed tree head"; it must name the first entry that diverges."""
    _append(10, clinic_a)
    ledger_sign_head()
    _append(3, clinic_a, start=10)
    ledger_sign_head()
    _rewrite_entry(5, '"i":5', '"i":7')

    report = ledger_verify()
    assert report.first_bad_sequence == 5
    first = report.first_problem
    assert first is not None and first.kind is Kind.ENTRY_NOT_AS_SIGNED
    assert "over 10 entries" in first.message
    assert {p.kind for p in report.problems} >= {Kind.HEAD_ROOT_MISMATCH, Kind.LEAF_COPY_MISMATCH}
    assert "FAILED at entry 5" in _command_output()


def test_the_first_of_several_rewritten_entries_is_named(clinic_a: Any) -> None:
    """Issue 9 finding 14: the first diverging entry, not any one of them."""
    _append(16, clinic_a)
    ledger_sign_head()
    _rewrite_entry(11, '"i":11', '"i":1')
    _rewrite_entry(6, '"i":6', '"i":9')
    report = ledger_verify()
    assert report.first_bad_sequence == 6 and report.first_problem is not None
    assert report.first_problem.kind is Kind.ENTRY_NOT_AS_SIGNED


def test_when_the_copies_were_rewritten_too_the_signed_heads_still_bound_the_entry(clinic_a: Any) -> None:
    """Issue 9 finding 14: a forger who also rewrites the next row's copy of the leaf hash cannot
    make verify name a wrong entry: the heads before and after bracket the rewritten one."""
    _append(4, clinic_a)
    ledger_sign_head()
    _append(3, clinic_a, start=4)
    ledger_sign_head()
    _append(5, clinic_a, start=7)
    ledger_sign_head()
    _rewrite_entry(5, '"i":5', '"i":8')
    # The copy of entry 5's leaf hash lives in entry 6's row.
    forged_leaf = LedgerEntry.objects.get(seq=5).leaf_hash
    _as_superuser("UPDATE consent_ledgerentry SET previous_leaf_hash = %s WHERE seq = 6", [forged_leaf])

    report = ledger_verify()
    located = [p for p in report.problems if p.kind is Kind.ENTRY_NOT_AS_SIGNED]
    assert len(located) == 1 and located[0].sequence is None
    assert "one of entries 4..6" in located[0].message


def test_every_new_entry_keeps_a_copy_of_the_previous_leaf_hash_and_a_clean_log_verifies(
    clinic_a: Any,
) -> None:
    _append(3, clinic_a)
    rows = list(LedgerEntry.objects.order_by("seq").values_list("leaf_hash", "previous_leaf_hash"))
    assert rows[0][1] is None and [r[1] for r in rows[1:]] == [r[0] for r in rows[:-1]]
    ledger_sign_head()
    assert ledger_verify().ok


# --- the search itself, without a database ---------------------------------------------------------


def _leaves(n: int, tag: str = "") -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}{tag}".encode()) for i in range(n)]


@pytest.fixture
def rng() -> Iterator[random.Random]:
    yield random.Random(9)


def test_locate_divergence_finds_the_first_rewritten_leaf_for_any_tree_shape(rng: random.Random) -> None:
    for size in [*range(1, 40), 63, 64, 65, 257, 1000]:
        original = _leaves(size)
        root = merkle.tree_root(original)
        forged_at = sorted(rng.sample(range(size), min(size, rng.randint(1, 3))))
        current = list(original)
        for index in forged_at:
            current[index] = merkle.leaf_hash(f"forged {index}".encode())
        # The witness copies are the originals (kept in other rows, left alone by the forger).
        found = merkle.locate_divergence(root, size, merkle.MerkleTree(current), merkle.MerkleTree(original))
        assert found == (forged_at[0], forged_at[0] + 1), (size, forged_at)
        untouched = merkle.MerkleTree(original)
        assert merkle.locate_divergence(root, size, untouched, untouched) == (size, size)


def test_locate_divergence_never_names_a_wrong_leaf_when_the_copies_lie(rng: random.Random) -> None:
    for size in [2, 3, 7, 8, 13, 100, 333]:
        original = _leaves(size)
        root = merkle.tree_root(original)
        for _ in range(10):
            forged = rng.randrange(size)
            current = list(original)
            current[forged] = merkle.leaf_hash(b"forged")
            # The forger also rewrote the copy of that leaf, and maybe a few unrelated copies.
            witness = list(current)
            for index in rng.sample(range(size), min(size, 3)):
                witness[index] = merkle.leaf_hash(f"lie {index}".encode())
            begin, end = merkle.locate_divergence(
                root, size, merkle.MerkleTree(current), merkle.MerkleTree(witness)
            )
            assert begin <= forged < end, (size, forged, begin, end)
