"""Framework-free core of the consent ledger: canonical JSON, RFC 6962 Merkle trees, signed tree heads.

The tree follows RFC 6962 §2.1 (and its successor RFC 9162 §2.1) exactly, so that an auditor can check
our proofs and heads with any Certificate Transparency tooling instead of trusting this code:

* leaf hash ``SHA-256(0x00 || entry)``, interior node ``SHA-256(0x01 || left || right)``;
* the tree over ``n`` entries splits at the largest power of two smaller than ``n``;
* the root of the empty tree is ``SHA-256("")``.

Nothing here imports Django: the ledger models hand in canonical entry bytes and stored leaf hashes
ordered by sequence number, and get hashes, proofs, heads and verification reports back.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "LogProblem",
    "LogProblemKind",
    "MerkleTree",
    "SignedTreeHead",
    "VerifyReport",
    "canonical_json",
    "check_tree_heads",
    "consistency_proof",
    "generate_signing_key",
    "inclusion_proof",
    "key_id",
    "leaf_hash",
    "load_private_key_pem",
    "locate_divergence",
    "load_public_key_pem",
    "node_hash",
    "private_key_to_pem",
    "public_key_to_pem",
    "sign_tree_head",
    "tree_root",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_tree_head",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# Outside verifiers are often written in JavaScript, whose JSON numbers are IEEE-754 doubles: a larger
# integer would be silently rounded there and the entry would hash differently for them than for us.
_MAX_SAFE_INTEGER = 2**53 - 1

BytesLike = bytes | bytearray | memoryview


# --------------------------------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------------------------------


def canonical_json(obj: object) -> bytes:
    """Serialize ``obj`` as canonical JSON: sorted keys, no whitespace, UTF-8.

    Only ``dict`` (with ``str`` keys), ``list``, ``str``, ``int`` (within ±(2**53 - 1)), ``bool`` and
    ``None`` are accepted. Floats are refused because their text form is not stable across languages,
    so two honest parties could hash the same entry differently. Raises ``TypeError`` for a value of a
    refused type and ``ValueError`` for an out-of-range integer or a string that is not valid Unicode;
    the message names where in ``obj`` the offending value sits (``$.scope[2]``).
    """
    _check_json_value(obj, "$")
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"ledger entries must be valid Unicode text: {exc.reason}") from exc


def _check_json_value(value: object, path: str) -> None:
    # bool first: it subclasses int but needs no range check.
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
            return
        raise ValueError(
            f"{path}: integer {value} is outside ±(2**53 - 1), which JSON readers in other languages "
            "cannot represent exactly; store it as a string"
        )
    if isinstance(value, float):
        raise TypeError(
            f"{path}: floats are not allowed in ledger entries ({value!r}); use an integer "
            "(e.g. in milli-units) or a string"
        )
    if isinstance(value, list):
        for position, item in enumerate(value):
            _check_json_value(item, f"{path}[{position}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: object keys must be strings, got {type(key).__name__} {key!r}")
            _check_json_value(item, f"{path}.{key}")
        return
    raise TypeError(
        f"{path}: {type(value).__name__} is not allowed in ledger entries; only dict, list, str, int, "
        "bool and None are (convert ids, hashes and times to strings or integers first)"
    )


# --------------------------------------------------------------------------------------------------
# RFC 6962 hashing
# --------------------------------------------------------------------------------------------------


def leaf_hash(entry: BytesLike) -> bytes:
    """Return the RFC 6962 leaf hash ``SHA-256(0x00 || entry)`` of one ledger entry's bytes."""
    return _sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: BytesLike, right: BytesLike) -> bytes:
    """Return the RFC 6962 interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The RFC 6962 split point ``k`` for ``n > 1`` entries: the largest power of two ``< n``."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(value: BytesLike, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ValueError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")


class CompactRange:
    """The roots of the perfect subtrees covering the leaves appended so far (the log's right edge).

    Appending is amortised O(1) and memory is O(log n), so the root of a log of any length can be
    computed while streaming its entries once, without holding them.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self) -> None:
        self._peaks: list[bytes] = []
        self._size = 0

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._size

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash (32 bytes)."""
        _check_hash(leaf, "leaf hash")
        # Each trailing 1 bit of the old size is a perfect subtree that the new leaf now completes.
        index = self._size
        peaks = self._peaks
        carry = leaf
        while index & 1:
            carry = _sha256(_NODE_PREFIX + peaks.pop() + carry).digest()
            index >>= 1
        peaks.append(carry)
        self._size += 1

    def root(self) -> bytes:
        """The Merkle tree hash of all leaves appended so far."""
        peaks = self._peaks
        if not peaks:
            return EMPTY_ROOT
        # RFC 6962 nests the smaller right-hand subtrees first: MTH = H(P1, H(P2, H(P3, ...))).
        result = peaks[-1]
        for peak in reversed(peaks[:-1]):
            result = _sha256(_NODE_PREFIX + peak + result).digest()
        return result


def tree_root(leaf_hashes: Iterable[bytes]) -> bytes:
    """Return the RFC 6962 Merkle tree hash of ``leaf_hashes`` (``SHA-256("")`` when there are none)."""
    compact = CompactRange()
    for leaf in leaf_hashes:
        compact.append(leaf)
    return compact.root()


class MerkleTree:
    """An append-only RFC 6962 tree that keeps every complete subtree hash, for fast proofs.

    Level ``k`` holds the hashes of the ``size // 2**k`` complete, aligned subtrees of ``2**k`` leaves,
    packed 32 bytes each into one ``bytearray`` (about 64 bytes per leaf in all, a quarter of what
    separate ``bytes`` objects would cost). Every node of the tree at any size ``m <= size`` is either
    such a subtree or is derived from O(log m) of them, so roots at past sizes, inclusion proofs and
    consistency proofs all cost O(log n) hashes.

    Not thread-safe: share one instance between threads only behind a lock.
    """

    __slots__ = ("_levels", "_size")

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        """The number of leaves in the tree."""
        return self._size

    def __len__(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash and return its index."""
        _check_hash(leaf, "leaf hash")
        index = self._size
        levels = self._levels
        levels[0] += leaf
        level, position = 0, index
        while position & 1:
            offset = (position - 1) * HASH_SIZE
            parent = _sha256(_NODE_PREFIX + levels[level][offset : offset + 2 * HASH_SIZE]).digest()
            level += 1
            if level == len(levels):
                levels.append(bytearray())
            levels[level] += parent
            position >>= 1
        self._size = index + 1
        return index

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes; faster than repeated ``append`` because it hashes level by level."""
        batch = leaf_hashes if isinstance(leaf_hashes, list | tuple) else list(leaf_hashes)
        for leaf in batch:
            _check_hash(leaf, "leaf hash")
        levels = self._levels
        levels[0] += b"".join(batch)
        self._size += len(batch)
        # Each level keeps exactly floor(count below / 2) hashes, so whatever the old size, the
        # parents still missing are the ones from ``have`` onwards, and their children all exist now.
        span = 2 * HASH_SIZE
        level = 0
        while True:
            below = levels[level]
            have = len(levels[level + 1]) // HASH_SIZE if level + 1 < len(levels) else 0
            want = len(below) // span
            if want == have:
                break
            if level + 1 == len(levels):
                levels.append(bytearray())
            levels[level + 1] += b"".join(
                [
                    _sha256(_NODE_PREFIX + below[start : start + span]).digest()
                    for start in range(have * span, want * span, span)
                ]
            )
            level += 1

    def leaf_hash(self, index: int) -> bytes:
        """The stored hash of leaf ``index``."""
        if not 0 <= index < self._size:
            raise IndexError(f"leaf index {index} is outside a tree of {self._size} leaves")
        return self._subtree(0, index)

    def root(self, tree_size: int | None = None) -> bytes:
        """The root hash of the first ``tree_size`` leaves (default: all of them)."""
        size = self._size if tree_size is None else tree_size
        self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        return self._node(0, size)

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """The RFC 6962 audit path of leaf ``index`` in the tree of the first ``tree_size`` leaves.

        The path runs from the leaf's sibling upwards, as ``verify_inclusion`` expects.
        """
        size = self._size if tree_size is None else tree_size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
        siblings: list[bytes] = []
        begin, end = 0, size
        while end - begin > 1:
            middle = begin + _largest_power_of_two_below(end - begin)
            if index < middle:
                siblings.append(self._node(middle, end))
                end = middle
            else:
                siblings.append(self._node(begin, middle))
                begin = middle
        siblings.reverse()
        return siblings

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The RFC 6962 consistency proof that the tree of ``old_size`` leaves is a prefix of ``new_size``.

        Empty when ``old_size`` is 0 or equal to ``new_size``: those trees are consistent by definition.
        """
        size = self._size if new_size is None else new_size
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"old size {old_size} must be between 0 and the new size {size}")
        if old_size in (0, size):
            return []
        nodes: list[bytes] = []
        begin, end = 0, size
        # Whether the subtree we are in still starts at leaf 0; if it does, the verifier already holds
        # its hash (it is the old root) and the proof leaves it out (RFC 6962 §2.1.2, SUBPROOF's b).
        old_root_is_known = True
        while end != old_size:
            middle = begin + _largest_power_of_two_below(end - begin)
            if old_size <= middle:
                nodes.append(self._node(middle, end))
                end = middle
            else:
                nodes.append(self._node(begin, middle))
                begin = middle
                old_root_is_known = False
        if not old_root_is_known:
            nodes.append(self._node(begin, end))
        nodes.reverse()
        return nodes

    def subtree_root(self, begin: int, end: int) -> bytes:
        """The hash of the RFC 6962 node over leaves ``[begin, end)``.

        ``[begin, end)`` must be a node of the tree at some size (as the splits of ``root``,
        ``inclusion_proof`` and ``locate_divergence`` produce), not an arbitrary range.
        """
        if not 0 <= begin < end <= self._size:
            raise ValueError(f"[{begin}, {end}) is not a range of leaves of a tree of {self._size}")
        if begin % (1 << (end - begin - 1).bit_length()):
            raise ValueError(f"[{begin}, {end}) is not a node of an RFC 6962 tree")
        return self._node(begin, end)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self._size:
            raise ValueError(f"tree size {size} is outside 0..{self._size}")

    def _subtree(self, level: int, position: int) -> bytes:
        offset = position * HASH_SIZE
        return bytes(self._levels[level][offset : offset + HASH_SIZE])

    def _node(self, begin: int, end: int) -> bytes:
        # [begin, end) is a node of some RFC 6962 tree, so ``begin`` is a multiple of the smallest
        # power of two >= its width, and the greedy split into descending powers of two below yields
        # stored, aligned subtrees.
        peaks: list[bytes] = []
        while begin < end:
            level = (end - begin).bit_length() - 1
            peaks.append(self._subtree(level, begin >> level))
            begin += 1 << level
        result = peaks[-1]
        for peak in reversed(peaks[:-1]):
            result = _sha256(_NODE_PREFIX + peak + result).digest()
        return result


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaf_hashes[:tree_size]``.

    Builds a ``MerkleTree`` (O(n)); to serve many proofs, build one ``MerkleTree`` and keep it.
    """
    if not 0 <= tree_size <= len(leaf_hashes):
        raise ValueError(f"tree size {tree_size} is outside 0..{len(leaf_hashes)}")
    return MerkleTree(leaf_hashes[:tree_size]).inclusion_proof(index)


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """The consistency proof between the trees of the first ``old_size`` and ``new_size`` leaves.

    Builds a ``MerkleTree`` (O(n)); to serve many proofs, build one ``MerkleTree`` and keep it.
    """
    if not 0 <= new_size <= len(leaf_hashes):
        raise ValueError(f"tree size {new_size} is outside 0..{len(leaf_hashes)}")
    return MerkleTree(leaf_hashes[:new_size]).consistency_proof(old_size)


def verify_inclusion(
    leaf: BytesLike, index: int, tree_size: int, proof: Sequence[BytesLike], root: BytesLike
) -> bool:
    """Whether ``proof`` shows that ``leaf`` is leaf ``index`` of the tree of ``tree_size`` with ``root``.

    Follows RFC 9162 §2.1.3.2. Never raises on malformed input: anything wrong is simply ``False``.
    """
    if not 0 <= index < tree_size:
        return False
    if len(leaf) != HASH_SIZE or len(root) != HASH_SIZE:
        return False
    if any(len(sibling) != HASH_SIZE for sibling in proof):
        return False
    position, last = index, tree_size - 1
    computed = bytes(leaf)
    for sibling in proof:
        if last == 0:
            return False
        if position & 1 or position == last:
            computed = _sha256(_NODE_PREFIX + sibling + computed).digest()
            # Climb past the levels where this node is its parent's only child (the right edge).
            while not position & 1 and position != 0:
                position >>= 1
                last >>= 1
        else:
            computed = _sha256(_NODE_PREFIX + computed + sibling).digest()
        position >>= 1
        last >>= 1
    return last == 0 and computed == root


def verify_consistency(
    old_size: int, new_size: int, old_root: BytesLike, new_root: BytesLike, proof: Sequence[BytesLike]
) -> bool:
    """Whether ``proof`` shows that the tree with ``old_root`` is a prefix of the one with ``new_root``.

    Follows RFC 9162 §2.1.4.2. Trees of equal size are consistent only with equal roots and an empty
    proof; the empty tree is consistent with everything, with an empty proof. Never raises on
    malformed input.
    """
    if not 0 <= old_size <= new_size:
        return False
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        return False
    if any(len(node) != HASH_SIZE for node in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is itself a node of the new one; the proof omits its hash.
        path.insert(0, bytes(old_root))
    position, last = old_size - 1, new_size - 1
    while position & 1:
        position >>= 1
        last >>= 1
    old_computed = new_computed = bytes(path[0])
    for node in path[1:]:
        if last == 0:
            return False
        if position & 1 or position == last:
            old_computed = _sha256(_NODE_PREFIX + node + old_computed).digest()
            new_computed = _sha256(_NODE_PREFIX + node + new_computed).digest()
            while not position & 1 and position != 0:
                position >>= 1
                last >>= 1
        else:
            new_computed = _sha256(_NODE_PREFIX + new_computed + node).digest()
        position >>= 1
        last >>= 1
    return last == 0 and old_computed == old_root and new_computed == new_root


# --------------------------------------------------------------------------------------------------
# Keys and signed tree heads
# --------------------------------------------------------------------------------------------------


def generate_signing_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key for signing tree heads (for development; production loads one from PEM)."""
    return Ed25519PrivateKey.generate()


def load_private_key_pem(pem: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from PEM (PKCS#8); ``TypeError`` if the PEM holds another kind."""
    key = serialization.load_pem_private_key(pem, password=password)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"the ledger signing key must be Ed25519, got {type(key).__name__}")
    return key


def load_public_key_pem(pem: bytes) -> Ed25519PublicKey:
    """Load an Ed25519 public key from PEM (SubjectPublicKeyInfo); ``TypeError`` for another kind."""
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"the ledger verification key must be Ed25519, got {type(key).__name__}")
    return key


def private_key_to_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> bytes:
    """Serialize a private key as PKCS#8 PEM, encrypted when ``password`` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def public_key_to_pem(key: Ed25519PublicKey) -> bytes:
    """Serialize a public key as SubjectPublicKeyInfo PEM, the form to publish for outside verifiers."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """The first 16 hex digits of SHA-256 of the raw 32-byte public key; names the key in a head."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A log's signed statement "my first ``tree_size`` entries have root ``root_hash``, as of then".

    ``root_hash`` is lowercase hex, ``timestamp`` milliseconds since the Unix epoch, ``signature`` the
    standard base64 of the Ed25519 signature over ``signed_payload()``.
    """

    tree_size: int
    root_hash: str
    timestamp: int
    key_id: str
    signature: str

    def signed_payload(self) -> bytes:
        """The exact bytes that are signed: canonical JSON of tree_size, root_hash and timestamp."""
        return _tree_head_payload(self.tree_size, self.root_hash, self.timestamp)

    def root_bytes(self) -> bytes:
        """``root_hash`` decoded; ``ValueError`` when it is not 64 hex digits."""
        return _decode_root_hex(self.root_hash)

    def to_dict(self) -> dict[str, int | str]:
        """A JSON-ready dict, the export format for outside parties."""
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SignedTreeHead:
        """Parse the ``to_dict`` form, checking field types; ``ValueError`` names a bad field."""
        head = cls(
            tree_size=_natural_field(data, "tree_size"),
            root_hash=_text_field(data, "root_hash"),
            timestamp=_natural_field(data, "timestamp"),
            key_id=_text_field(data, "key_id"),
            signature=_text_field(data, "signature"),
        )
        head.root_bytes()
        return head


def _natural_field(data: Mapping[str, object], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"signed tree head field {name} must be a non-negative integer")
    return value


def _text_field(data: Mapping[str, object], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"signed tree head field {name} must be a string")
    return value


def _decode_root_hex(root_hash: str) -> bytes:
    # Lowercase only: the hex text is what gets signed, so "AB" and "ab" must not both be valid.
    if len(root_hash) != 2 * HASH_SIZE or root_hash != root_hash.lower():
        raise ValueError("root_hash must be 64 lowercase hex digits")
    try:
        return bytes.fromhex(root_hash)
    except ValueError as exc:
        raise ValueError("root_hash must be 64 lowercase hex digits") from exc


def _tree_head_payload(tree_size: int, root_hash: str, timestamp: int) -> bytes:
    return canonical_json({"tree_size": tree_size, "root_hash": root_hash, "timestamp": timestamp})


def sign_tree_head(
    private_key: Ed25519PrivateKey, tree_size: int, root: bytes, timestamp_ms: int
) -> SignedTreeHead:
    """Sign the head of a tree of ``tree_size`` leaves with root ``root`` (raw 32 bytes) at a time in ms."""
    if tree_size < 0 or timestamp_ms < 0:
        raise ValueError("tree size and timestamp must be non-negative")
    _check_hash(root, "root hash")
    root_hex = root.hex()
    signature = private_key.sign(_tree_head_payload(tree_size, root_hex, timestamp_ms))
    return SignedTreeHead(
        tree_size=tree_size,
        root_hash=root_hex,
        timestamp=timestamp_ms,
        key_id=key_id(private_key),
        signature=base64.b64encode(signature).decode("ascii"),
    )


def verify_tree_head(public_key: Ed25519PublicKey, sth: SignedTreeHead) -> bool:
    """Whether ``sth`` carries a valid signature by ``public_key`` over its size, root and time.

    Never raises on a malformed head: anything wrong is ``False``.
    """
    if sth.key_id != key_id(public_key):
        return False
    if not isinstance(sth.tree_size, int) or not isinstance(sth.timestamp, int):
        return False
    if sth.tree_size < 0 or sth.timestamp < 0:
        return False
    try:
        _decode_root_hex(sth.root_hash)
        signature = base64.b64decode(sth.signature, validate=True)
        public_key.verify(signature, sth.signed_payload())
    except (ValueError, TypeError, binascii.Error, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------------------------------
# Verifying a whole log
# --------------------------------------------------------------------------------------------------


class LogProblemKind(enum.StrEnum):
    """What can be wrong with a stored log; the values are stable codes for reports and APIs."""

    LEAF_HASH_MISMATCH = "leaf_hash_mismatch"
    SEQUENCE_GAP = "sequence_gap"
    SEQUENCE_OUT_OF_ORDER = "sequence_out_of_order"
    HEAD_ROOT_MISMATCH = "head_root_mismatch"
    HEAD_BEYOND_LOG = "head_beyond_log"
    HEAD_SIGNATURE_INVALID = "head_signature_invalid"
    HEAD_UNKNOWN_KEY = "head_unknown_key"
    HEAD_MALFORMED = "head_malformed"
    HEAD_TIMESTAMP_REGRESSED = "head_timestamp_regressed"
    ENTRY_MALFORMED = "entry_malformed"
    COLUMN_MISMATCH = "column_mismatch"
    LEAF_COPY_MISMATCH = "leaf_copy_mismatch"
    ENTRY_NOT_AS_SIGNED = "entry_not_as_signed"


@dataclass(frozen=True, slots=True)
class LogProblem:
    """One finding; ``sequence`` names the entry for entry problems, ``head`` the head for head ones."""

    kind: LogProblemKind
    message: str
    sequence: int | None = None
    head: SignedTreeHead | None = None


@dataclass(slots=True)
class VerifyReport:
    """The result of recomputing a log: its size and root, and what did not match.

    ``problems`` holds at most ``max_problems`` findings in log order; ``problem_count`` counts all.
    """

    entry_count: int
    root_hash: bytes
    problems: list[LogProblem] = field(default_factory=list)
    problem_count: int = 0

    @property
    def ok(self) -> bool:
        """True when every entry and every head checked out."""
        return self.problem_count == 0

    @property
    def first_problem(self) -> LogProblem | None:
        """The earliest finding, or None."""
        return self.problems[0] if self.problems else None

    @property
    def first_bad_sequence(self) -> int | None:
        """The sequence number of the first entry found wrong (missing, misplaced or altered)."""
        return next((p.sequence for p in self.problems if p.sequence is not None), None)

    @property
    def reason(self) -> str | None:
        """The message of the first finding, or None."""
        return self.problems[0].message if self.problems else None

    @property
    def root_hex(self) -> str:
        """``root_hash`` as lowercase hex."""
        return self.root_hash.hex()

    def _add(self, problem: LogProblem, limit: int) -> None:
        self.problem_count += 1
        if len(self.problems) < limit:
            self.problems.append(problem)

    def merge(self, problems: Iterable[LogProblem], max_problems: int = 100) -> None:
        """Add findings made outside ``verify_log`` (by a caller that knows more about its entries).

        The list stays in log order: an entry's findings come before those of every head that
        covers it, and the entry named by ``locate_divergence`` before the other findings at it.
        """
        added = list(problems)
        self.problem_count += len(added)
        self.problems = sorted([*self.problems, *added], key=_log_order)[:max_problems]


def _log_order(problem: LogProblem) -> tuple[int, int, int]:
    # An entry at sequence s sorts before a head over s + 1 or more entries, after any smaller one.
    first = 0 if problem.kind is LogProblemKind.ENTRY_NOT_AS_SIGNED else 1
    if problem.sequence is not None:
        return (problem.sequence + 1, 0, first)
    if problem.head is not None:
        return (problem.head.tree_size, 1, first)
    return (_MAX_SAFE_INTEGER, 2, first)


class _HeadChecker:
    """Checks signed heads against roots as the recomputation reaches each head's size."""

    def __init__(
        self, heads: Iterable[SignedTreeHead], public_keys: Iterable[Ed25519PublicKey], report: VerifyReport
    ) -> None:
        self._report = report
        self._keys = {key_id(key): key for key in public_keys}
        # Heads are checked in ascending size; these track the latest signing time seen at the current
        # size and at all smaller sizes, to catch a bigger tree signed before a smaller one.
        self._current_size = -1
        self._latest_time_at_current_size = -1
        self._latest_time_below_current_size = -1
        self.pending = sorted(heads, key=lambda head: (head.tree_size, head.timestamp), reverse=True)

    @property
    def next_size(self) -> int | None:
        """The smallest tree size still to be checked, or None when all heads are done."""
        return self.pending[-1].tree_size if self.pending else None

    def check_at(self, size: int, root: bytes, limit: int) -> None:
        """Check every pending head of ``size`` against ``root``."""
        while self.pending and self.pending[-1].tree_size == size:
            self._check(self.pending.pop(), root, limit)

    def finish(self, log_size: int, limit: int) -> None:
        """Report every head the log never reached: entries after its size have vanished."""
        while self.pending:
            head = self.pending.pop()
            self._report._add(
                LogProblem(
                    LogProblemKind.HEAD_BEYOND_LOG,
                    f"a head signed at {head.timestamp} covers {head.tree_size} entries but the log has "
                    f"only {log_size}: entries were removed from the end",
                    head=head,
                ),
                limit,
            )

    def _check(self, head: SignedTreeHead, root: bytes, limit: int) -> None:
        report = self._report
        try:
            claimed = head.root_bytes()
        except ValueError as exc:
            report._add(LogProblem(LogProblemKind.HEAD_MALFORMED, str(exc), head=head), limit)
            return
        if claimed != root:
            report._add(
                LogProblem(
                    LogProblemKind.HEAD_ROOT_MISMATCH,
                    f"the head for {head.tree_size} entries signed root {head.root_hash} but the stored "
                    f"entries give {root.hex()}",
                    head=head,
                ),
                limit,
            )
        if self._keys:
            key = self._keys.get(head.key_id)
            if key is None:
                report._add(
                    LogProblem(
                        LogProblemKind.HEAD_UNKNOWN_KEY,
                        f"the head for {head.tree_size} entries is signed by unknown key {head.key_id}",
                        head=head,
                    ),
                    limit,
                )
            elif not verify_tree_head(key, head):
                report._add(
                    LogProblem(
                        LogProblemKind.HEAD_SIGNATURE_INVALID,
                        f"the signature on the head for {head.tree_size} entries does not verify",
                        head=head,
                    ),
                    limit,
                )
        if head.tree_size != self._current_size:
            self._latest_time_below_current_size = max(
                self._latest_time_below_current_size, self._latest_time_at_current_size
            )
            self._current_size = head.tree_size
            self._latest_time_at_current_size = -1
        # A head for a bigger tree signed before one for a smaller tree means that history was
        # rewritten in between (or that the signing clock is wrong); either needs a human.
        if head.timestamp < self._latest_time_below_current_size:
            report._add(
                LogProblem(
                    LogProblemKind.HEAD_TIMESTAMP_REGRESSED,
                    f"the head for {head.tree_size} entries is dated {head.timestamp}, before a head for "
                    f"a smaller tree ({self._latest_time_below_current_size})",
                    head=head,
                ),
                limit,
            )
        self._latest_time_at_current_size = max(self._latest_time_at_current_size, head.timestamp)


def verify_log(
    entries: Iterable[tuple[int, BytesLike, BytesLike]],
    *,
    heads: Iterable[SignedTreeHead] = (),
    public_keys: Iterable[Ed25519PublicKey] = (),
    max_problems: int = 100,
) -> VerifyReport:
    """Recompute a log from its stored rows and report the first thing that does not match.

    ``entries`` yields ``(sequence, canonical entry bytes, stored leaf hash)`` in storage order, which
    must be ascending sequence from 0 without gaps. Each leaf hash is recomputed from the entry bytes
    and compared; the tree root is built from the recomputed hashes in one streaming pass with
    O(log n) memory. Each of ``heads`` must match the recomputed root at its size; when
    ``public_keys`` are given their signatures are checked too (heads by other keys are reported).
    A head larger than the log means entries were removed from its end.
    """
    report = VerifyReport(entry_count=0, root_hash=EMPTY_ROOT)
    head_checker = _HeadChecker(heads, public_keys, report)
    compact = CompactRange()
    if head_checker.next_size == 0:
        head_checker.check_at(0, EMPTY_ROOT, max_problems)
    next_head_size = head_checker.next_size
    expected = 0
    count = 0
    for sequence, entry, stored in entries:
        if sequence == expected:
            expected += 1
        elif sequence > expected:
            missing = (
                f"sequence {expected} is missing"
                if sequence == expected + 1
                else f"sequences {expected}..{sequence - 1} are missing"
            )
            report._add(
                LogProblem(
                    LogProblemKind.SEQUENCE_GAP, f"{missing} (found {sequence} next)", sequence=expected
                ),
                max_problems,
            )
            # Resynchronise so one gap is reported once, not once for every later entry.
            expected = sequence + 1
        else:
            report._add(
                LogProblem(
                    LogProblemKind.SEQUENCE_OUT_OF_ORDER,
                    f"sequence {sequence} appears at position {count}, after {expected - 1}: the log is "
                    "reordered or has a duplicate",
                    sequence=sequence,
                ),
                max_problems,
            )
        recomputed = _sha256(_LEAF_PREFIX + entry).digest()
        if recomputed != stored:
            report._add(
                LogProblem(
                    LogProblemKind.LEAF_HASH_MISMATCH,
                    f"entry {sequence} does not match its stored leaf hash: the entry or the hash was "
                    "altered after it was written",
                    sequence=sequence,
                ),
                max_problems,
            )
        compact.append(recomputed)
        count += 1
        if count == next_head_size:
            head_checker.check_at(count, compact.root(), max_problems)
            next_head_size = head_checker.next_size
    head_checker.finish(count, max_problems)
    report.entry_count = count
    report.root_hash = compact.root()
    return report


def check_tree_heads(
    tree: MerkleTree,
    heads: Iterable[SignedTreeHead],
    public_keys: Iterable[Ed25519PublicKey] = (),
    max_problems: int = 100,
) -> list[LogProblem]:
    """Check signed heads against an already built tree: each head's root must be the root at its size.

    The same checks as ``verify_log`` applies to heads, for callers that hold a ``MerkleTree``.
    """
    report = VerifyReport(entry_count=tree.size, root_hash=tree.root())
    checker = _HeadChecker(heads, public_keys, report)
    while (size := checker.next_size) is not None and size <= tree.size:
        checker.check_at(size, tree.root(size), max_problems)
    checker.finish(tree.size, max_problems)
    return report.problems


def locate_divergence(
    root: BytesLike, tree_size: int, recomputed: MerkleTree, witness: MerkleTree
) -> tuple[int, int]:
    """Find the first leaf whose recomputed hash is not the one a signed ``root`` committed to.

    ``recomputed`` holds the leaf hashes recomputed from the stored entries. ``witness`` holds
    a second, independently stored copy of each leaf hash (the leaf's own recomputed hash where
    no copy exists). Neither is trusted: walking down from ``root``, a pair of child hashes is
    believed only when it hashes to the parent already believed, which no forger can arrange
    (SHA-256 collision resistance). At each node the child whose recomputed hash differs from
    the believed one is followed, the left one first, so the walk ends at the first rewritten
    leaf even when several were rewritten.

    Returns ``(begin, end)``: ``end == begin + 1`` names leaf ``begin`` exactly; a wider range
    means that neither the entries nor the copies show what was signed inside it (the copies
    were rewritten too, or never kept), and the first rewritten leaf is somewhere in it.
    ``(tree_size, tree_size)`` means the recomputed tree does have ``root``: nothing diverges.
    """
    if recomputed.size < tree_size or witness.size < tree_size or tree_size <= 0:
        raise ValueError(f"both trees must hold at least {tree_size} > 0 leaves")
    if recomputed.root(tree_size) == root:
        return tree_size, tree_size
    begin, end, believed = 0, tree_size, bytes(root)
    while end - begin > 1:
        middle = begin + _largest_power_of_two_below(end - begin)
        left, right = recomputed.subtree_root(begin, middle), recomputed.subtree_root(middle, end)
        left_copy, right_copy = witness.subtree_root(begin, middle), witness.subtree_root(middle, end)
        pairs = ((left, right), (left, right_copy), (left_copy, right), (left_copy, right_copy))
        signed = next((pair for pair in pairs if node_hash(*pair) == believed), None)
        if signed is None:
            break
        if signed[0] != left:
            end, believed = middle, signed[0]
        else:
            begin, believed = middle, signed[1]
    return begin, end
