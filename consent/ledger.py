"""The append-only, tamper-evident ledger: appends, signed tree heads, proofs and verification.

One global log for the platform. Entries are canonical JSON (ids, hashes, codes; never PHI) hashed
into an RFC 6962 Merkle tree (consent.merkle). Appends take a database-wide lock inside the caller's
transaction, so sequence numbers are gapless even with many concurrent workers, and an entry commits
or rolls back together with the change it records.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from consent import merkle
from consent.models import LedgerEntry, SignedTreeHead
from core.models import User

# Any constant works; it names the advisory lock that serializes ledger appends on PostgreSQL.
_LEDGER_LOCK_ID = 0x43414E44  # "CAND"


def _id(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, User):
        return str(value.pk)
    return str(getattr(value, "pk", value))


def ledger_append(
    *,
    event_type: str,
    clinic_id: Any,
    object_type: str = "",
    object_id: Any = None,
    actor: Any = None,
    subject: Any = None,
    data: dict[str, Any] | None = None,
) -> LedgerEntry:
    """Append one entry inside the current transaction and return it.

    `data` holds only ids, hashes, codes, booleans and integers (canonical JSON refuses floats).
    """
    data = data or {}
    merkle.canonical_json(data)  # refuse bad data before touching the transaction
    # No savepoint: the entry joins the caller's transaction (or gets its own); a savepoint would
    # cost two round trips per append and buy nothing, since a failed append fails the caller too.
    with transaction.atomic(savepoint=False):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Two statements on purpose: a statement's snapshot is taken before it waits for the
                # lock, so reading max(seq) in the locking statement would read a stale value.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LEDGER_LOCK_ID])
            # On SQLite the write transaction itself is exclusive (transaction_mode IMMEDIATE).
            cursor.execute("SELECT seq, leaf_hash FROM consent_ledgerentry ORDER BY seq DESC LIMIT 1")
            last = cursor.fetchone()
        seq, previous_leaf_hash = (0, None) if last is None else (last[0] + 1, last[1])
        now = timezone.now()
        clinic = _id(clinic_id) or None
        body = {
            "v": 1,
            "seq": seq,
            "type": event_type,
            "at": int(now.timestamp() * 1000),
            "clinic": clinic,
            "object": {"type": object_type, "id": _id(object_id)},
            "actor": _id(actor),
            "subject": _id(subject),
            "data": data,
        }
        canonical = merkle.canonical_json(body)
        return LedgerEntry.objects.create(
            seq=seq,
            event_type=event_type,
            clinic_id=clinic,
            object_type=object_type,
            object_id=_id(object_id),
            actor_id=_id(actor),
            subject_id=_id(subject),
            entry=canonical.decode("utf-8"),
            leaf_hash=merkle.leaf_hash(canonical).hex(),
            previous_leaf_hash=previous_leaf_hash,
            created_at=now,
        )


# --- signing key ---------------------------------------------------------------------------------


def ledger_signing_key() -> Ed25519PrivateKey:
    """The Ed25519 key for tree heads: from LEDGER_SIGNING_KEY_PEM(_FILE), else a generated dev key."""
    pem = settings.LEDGER_SIGNING_KEY_PEM
    if pem:
        return merkle.load_private_key_pem(pem.encode())
    path = Path(settings.LEDGER_SIGNING_KEY_PATH)
    if not path.exists():
        if not settings.LEDGER_GENERATE_DEV_KEY:
            raise RuntimeError("No ledger signing key configured (LEDGER_SIGNING_KEY_PEM or _FILE).")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(merkle.private_key_to_pem(merkle.generate_signing_key()))
        path.chmod(0o600)
    return merkle.load_private_key_pem(path.read_bytes())


def ledger_public_keys() -> list[Any]:
    """Keys whose tree-head signatures verification accepts: the current one and any retired ones."""
    keys = [ledger_signing_key().public_key()]
    keys += [merkle.load_public_key_pem(pem.encode()) for pem in settings.LEDGER_RETIRED_PUBLIC_KEYS_PEM]
    return keys


# --- the tree ------------------------------------------------------------------------------------


def _leaf_hashes_from(start: int) -> Iterator[bytes]:
    rows = LedgerEntry.objects.filter(seq__gte=start).order_by("seq").values_list("leaf_hash", flat=True)
    for leaf in rows.iterator(chunk_size=10_000):
        yield bytes.fromhex(leaf)


class _TreeCache:
    """An in-process Merkle tree of the stored leaf hashes, extended with new rows on demand.

    Proofs are then O(log n) instead of a full read of the log. Verification never uses it: it
    recomputes from the rows.

    Why a per-process copy needs no invalidation in the product: it only ever reads committed rows
    (proofs and tree heads are read outside any transaction that appends), appends hold the ledger
    lock until they commit, so the committed rows are always a gapless prefix of the log, and rows are
    never changed or deleted (database triggers). Each process's tree is therefore a prefix of the
    log, and extending it from its size is enough. Only a reader that sees its own uncommitted
    appends and then rolls back (the tests do, every test) must call `ledger_tree_reset`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tree = merkle.MerkleTree()
        self.database = ""

    def current(self) -> merkle.MerkleTree:
        with self.lock:
            name = str(connection.settings_dict["NAME"])
            if name != self.database:  # a different database (tests): start over
                self.tree, self.database = merkle.MerkleTree(), name
            self.tree.extend(_leaf_hashes_from(self.tree.size))
            return self.tree

    def reset(self) -> None:
        with self.lock:
            self.tree, self.database = merkle.MerkleTree(), ""


_tree_cache = _TreeCache()


def ledger_tree() -> merkle.MerkleTree:
    """The Merkle tree of every committed entry."""
    return _tree_cache.current()


def ledger_tree_reset() -> None:
    """Forget the cached tree; for code that read its own appends, then rolled back (see _TreeCache)."""
    _tree_cache.reset()


@dataclass(frozen=True)
class InclusionProof:
    seq: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    path: list[str]


def ledger_inclusion_proof(*, seq: int, tree_size: int | None = None) -> InclusionProof:
    """Proof that entry `seq` is in the tree of `tree_size` entries (default: the whole log)."""
    tree = ledger_tree()
    size = tree.size if tree_size is None else tree_size
    if not 0 <= seq < size <= tree.size:
        raise ValueError(f"Entry {seq} is not within a tree of {size} entries (the log holds {tree.size}).")
    return InclusionProof(
        seq=seq,
        tree_size=size,
        leaf_hash=tree.leaf_hash(seq).hex(),
        root_hash=tree.root(size).hex(),
        path=[node.hex() for node in tree.inclusion_proof(seq, size)],
    )


def ledger_consistency_proof(*, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """Proof that the tree of `old_size` entries is a prefix of the tree of `new_size` entries."""
    tree = ledger_tree()
    size = tree.size if new_size is None else new_size
    if not 0 < old_size <= size <= tree.size:
        raise ValueError(f"Sizes must satisfy 0 < old ≤ new ≤ {tree.size}.")
    return {
        "old_size": old_size,
        "new_size": size,
        "old_root": tree.root(old_size).hex(),
        "new_root": tree.root(size).hex(),
        "path": [node.hex() for node in tree.consistency_proof(old_size, size)],
    }


# --- signed tree heads ---------------------------------------------------------------------------


def ledger_sign_head() -> SignedTreeHead | None:
    """Sign the current size and root, unless the log has not grown since the last head."""
    tree = ledger_tree()
    if tree.size == 0 or SignedTreeHead.objects.filter(tree_size__gte=tree.size).exists():
        return None
    sth = merkle.sign_tree_head(ledger_signing_key(), tree.size, tree.root(), int(time.time() * 1000))
    return SignedTreeHead.objects.create(
        tree_size=sth.tree_size,
        root_hash=sth.root_hash,
        timestamp_ms=sth.timestamp,
        key_id=sth.key_id,
        signature=sth.signature,
    )


def head_to_sth(head: SignedTreeHead) -> merkle.SignedTreeHead:
    return merkle.SignedTreeHead(
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        timestamp=head.timestamp_ms,
        key_id=head.key_id,
        signature=head.signature,
    )


def ledger_heads_export() -> dict[str, Any]:
    """Every signed head with the public key, for outside parties to hold the platform to."""
    public_key = ledger_signing_key().public_key()
    return {
        "log": "candor-consent-ledger",
        "algorithm": "RFC 6962 SHA-256 Merkle tree; Ed25519 over canonical JSON of tree_size, root_hash, timestamp",
        "public_key_pem": merkle.public_key_to_pem(public_key).decode(),
        "key_id": merkle.key_id(public_key),
        "heads": [head_to_sth(h).to_dict() for h in SignedTreeHead.objects.order_by("tree_size")],
    }


def ledger_verify() -> merkle.VerifyReport:
    """Recompute the whole log from its rows and name the first entry that is not as written.

    Checks every leaf hash, the sequence, the root and every signed head (consent.merkle), and
    that every column the console and the API filter and show by (type, clinic, object, actor,
    subject, time) says what the hashed entry says: the columns are not hashed, so a forger with
    database rights could otherwise move an entry to another clinic's console unnoticed. When a
    signed head no longer matches because an entry and its leaf hash were rewritten together,
    the first such entry is found from the signed heads and the leaf-hash copies
    (`locate_divergence`).
    """
    findings: list[merkle.LogProblem] = []
    previous: tuple[int, str] | None = None

    def entries() -> Iterator[tuple[int, bytes, bytes]]:
        nonlocal previous
        rows = LedgerEntry.objects.annotate(created_ms=_created_ms()).order_by("seq")
        for row in rows.values_list(*_VERIFY_COLUMNS).iterator(10_000):
            seq, entry, leaf, previous_leaf = row[0], row[1], row[2], row[3]
            findings.extend(_column_problems(row))
            if previous is not None and previous_leaf is not None and previous_leaf != previous[1]:
                findings.append(
                    merkle.LogProblem(
                        merkle.LogProblemKind.LEAF_COPY_MISMATCH,
                        f"entry {previous[0]}'s leaf hash differs from the copy entry {seq} keeps of it: "
                        "one of the two rows was altered after it was written",
                        sequence=previous[0],
                    )
                )
            previous = (seq, leaf)
            yield seq, entry.encode("utf-8"), _hash_bytes(leaf)

    heads = [head_to_sth(h) for h in SignedTreeHead.objects.order_by("tree_size")]
    report = merkle.verify_log(entries(), heads=heads, public_keys=ledger_public_keys())
    findings.extend(_locate_rewritten_entry(report))
    report.merge(findings)
    return report


_VERIFY_COLUMNS = (
    "seq",
    "entry",
    "leaf_hash",
    "previous_leaf_hash",
    # The columns that must say what the entry says, in the order of `_column_problems`.
    "event_type",
    "clinic_id",
    "object_type",
    "object_id",
    "actor_id",
    "subject_id",
    "created_ms",
)
_CHECKED = (
    "seq",
    "event_type",
    "clinic_id",
    "object_type",
    "object_id",
    "actor_id",
    "subject_id",
    "created_at",
)


# Entries are canonical JSON, without whitespace: the decoder's scanner can be called directly,
# which saves a third of the time json.loads takes per entry.
_JSON = json.JSONDecoder()


def _created_ms() -> RawSQL:
    """`created_at` in milliseconds since the epoch, computed by the database.

    Turning a million timestamps into Python datetimes costs seconds; this costs next to nothing.
    It may differ from the entry's `at` by rounding (at most 1 ms), which the check allows.
    """
    if connection.vendor == "postgresql":
        return RawSQL("CAST(EXTRACT(EPOCH FROM created_at) * 1000 AS BIGINT)", [])
    # SQLite holds Django's datetimes as UTC text; julianday() reads it to within 0.1 ms.
    return RawSQL("CAST((julianday(created_at) - 2440587.5) * 86400000.0 AS INTEGER)", [])


def _hash_bytes(value: str) -> bytes:
    # A stored hash that is not even hex is as wrong as a wrong one: the recomputation flags it.
    try:
        return bytes.fromhex(value)
    except ValueError:
        return b""


def _column_problems(row: tuple[Any, ...]) -> list[merkle.LogProblem]:
    """What the indexed columns of one row say differently from its hashed entry (none, mostly)."""
    seq, entry = row[0], row[1]
    try:
        body, end = _JSON.raw_decode(entry)
        if end != len(entry):
            raise ValueError(f"text after the JSON object at character {end}")
        target, clinic, at = body["object"], body["clinic"], body["at"]
        hashed = (
            body["seq"],
            body["type"],
            None if clinic is None else clinic.replace("-", "").lower(),
            target["type"],
            target["id"],
            body["actor"],
            body["subject"],
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        return [
            merkle.LogProblem(
                merkle.LogProblemKind.ENTRY_MALFORMED,
                f"entry {seq} is not a ledger entry ({type(exc).__name__}: {exc})",
                sequence=seq,
            )
        ]
    clinic_id: uuid.UUID | None = row[5]
    stored = (seq, row[4], None if clinic_id is None else clinic_id.hex, *row[6:10])
    created_ms = row[10]
    same_time = isinstance(at, int) and not isinstance(at, bool) and abs(at - created_ms) <= 1
    if stored == hashed and same_time:
        return []
    shown = (seq, row[4], None if clinic_id is None else str(clinic_id), *row[6:10], created_ms)
    said = (*hashed[:2], clinic, *hashed[3:], at)
    wrong = [
        f"{name} {value!r} (the entry says {expected!r})"
        for name, value, expected, matches in zip(
            _CHECKED,
            shown,
            said,
            [a == b for a, b in zip(stored, hashed, strict=True)] + [same_time],
            strict=True,
        )
        if not matches
    ]
    return [
        merkle.LogProblem(
            merkle.LogProblemKind.COLUMN_MISMATCH,
            f"entry {seq}'s columns were altered after it was written, so the console and the API show "
            f"it wrongly: {'; '.join(wrong)}",
            sequence=seq,
        )
    ]


def _locate_rewritten_entry(report: merkle.VerifyReport) -> list[merkle.LogProblem]:
    """Name the first entry that differs from what the earliest contradicted signed head covers.

    Only heads whose signatures verify are evidence. The last of them that the recomputed tree
    still matches bounds the search from below; the leaf-hash copies kept in the rows narrow it
    to one entry, unless they were rewritten too. Runs only on a log that already failed, and
    reads it once more.
    """
    if report.ok:
        return []
    keys = {merkle.key_id(key): key for key in ledger_public_keys()}
    heads = [
        head
        for head in (head_to_sth(h) for h in SignedTreeHead.objects.order_by("tree_size", "timestamp_ms"))
        if head.key_id in keys and merkle.verify_tree_head(keys[head.key_id], head)
    ]
    if not heads:
        return []
    recomputed, witness = merkle.MerkleTree(), merkle.MerkleTree()
    previous: bytes | None = None
    rows = LedgerEntry.objects.filter(seq__lte=heads[-1].tree_size).order_by("seq")
    for entry, previous_leaf in rows.values_list("entry", "previous_leaf_hash").iterator(10_000):
        if previous is not None:
            # The copy of leaf j is kept in row j + 1; without one, the leaf stands for itself.
            copy = _hash_bytes(previous_leaf or "")
            witness.append(copy if len(copy) == merkle.HASH_SIZE else previous)
        previous = merkle.leaf_hash(entry.encode("utf-8"))
        recomputed.append(previous)
    if previous is not None:
        witness.append(previous)
    floor = 0
    for head in heads:
        if head.tree_size > recomputed.size:
            return []  # entries are missing: verify_log names the gap
        if head.tree_size == 0 or recomputed.root(head.tree_size) == head.root_bytes():
            floor = max(floor, head.tree_size)
            continue
        begin, end = merkle.locate_divergence(head.root_bytes(), head.tree_size, recomputed, witness)
        begin = max(begin, floor)
        signed = f"the head signed at {head.timestamp} over {head.tree_size} entries"
        if end == begin + 1:
            return [
                merkle.LogProblem(
                    merkle.LogProblemKind.ENTRY_NOT_AS_SIGNED,
                    f"entry {begin} is not the entry {signed} covers: it and its leaf hash were "
                    "rewritten after the head was signed",
                    sequence=begin,
                    head=head,
                )
            ]
        return [
            merkle.LogProblem(
                merkle.LogProblemKind.ENTRY_NOT_AS_SIGNED,
                f"the first entry rewritten since {signed} is one of entries {begin}..{end - 1} (the "
                "leaf-hash copies that would name it are missing or were rewritten too)",
                head=head,
            )
        ]
    return []
