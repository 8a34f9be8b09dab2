"""The ledger's Merkle core, checked against published RFC 6962 vectors and by property tests.

Runs without Django: ``python -m pytest -p no:django tests/consent/test_merkle.py``.

The fixed vectors are the Certificate Transparency reference tree of 8 leaves as published by
transparency-dev/merkle (``proof/verify_test.go``, also ``testdata/``): the leaf data, the root of every
tree size 1..8, and known-good inclusion and consistency proofs.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from consent.merkle import (
    EMPTY_ROOT,
    CompactRange,
    LogProblemKind,
    MerkleTree,
    SignedTreeHead,
    canonical_json,
    check_tree_heads,
    consistency_proof,
    generate_signing_key,
    inclusion_proof,
    key_id,
    leaf_hash,
    load_private_key_pem,
    load_public_key_pem,
    node_hash,
    private_key_to_pem,
    public_key_to_pem,
    sign_tree_head,
    tree_root,
    verify_consistency,
    verify_inclusion,
    verify_log,
    verify_tree_head,
)

# --------------------------------------------------------------------------------------------------
# Published RFC 6962 reference data (transparency-dev/merkle, Certificate Transparency)
# --------------------------------------------------------------------------------------------------

REFERENCE_LEAF_DATA = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# Root of the tree over the first n reference leaves, for n = 0..8.
REFERENCE_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


# (0-based leaf index, tree size, audit path). The source numbers leaves from 1.
REFERENCE_INCLUSION_PROOFS = [
    (0, 1, []),
    (
        0,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        5,
        8,
        _hashes(
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (
        1,
        5,
        _hashes(
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
]

# (old size, new size, consistency proof).
REFERENCE_CONSISTENCY_PROOFS = [
    (1, 1, []),
    (
        1,
        8,
        _hashes(
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ),
    ),
    (
        6,
        8,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
    (
        2,
        5,
        _hashes(
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ),
    ),
    (
        6,
        7,
        _hashes(
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ),
    ),
]

REFERENCE_LEAVES = [leaf_hash(data) for data in REFERENCE_LEAF_DATA]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


# --------------------------------------------------------------------------------------------------
# An independent, deliberately naive model: RFC 6962 §2.1's recursive definitions, word for word
# --------------------------------------------------------------------------------------------------


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _model_root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return hashlib.sha256(b"\x01" + _model_root(leaves[:k]) + _model_root(leaves[k:])).digest()


def _model_path(m: int, leaves: Sequence[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return _model_path(m, leaves[:k]) + [_model_root(leaves[k:])]
    return _model_path(m - k, leaves[k:]) + [_model_root(leaves[:k])]


def _model_subproof(m: int, leaves: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_model_root(leaves)]
    k = _split(n)
    if m <= k:
        return _model_subproof(m, leaves[:k], complete) + [_model_root(leaves[k:])]
    return _model_subproof(m - k, leaves[k:], False) + [_model_root(leaves[:k])]


def _synthetic_leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


def _flip(data: bytes, position: int, mask: int = 0x01) -> bytes:
    return data[:position] + bytes([data[position] ^ mask]) + data[position + 1 :]


# --------------------------------------------------------------------------------------------------
# Published vectors
# --------------------------------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_the_empty_string() -> None:
    assert REFERENCE_ROOTS[0] == EMPTY_ROOT
    assert tree_root([]) == EMPTY_ROOT
    assert MerkleTree().root() == EMPTY_ROOT
    assert CompactRange().root() == EMPTY_ROOT


def test_leaf_and_node_hashes_use_the_rfc_6962_prefixes() -> None:
    assert leaf_hash(b"") == REFERENCE_ROOTS[1]
    assert node_hash(REFERENCE_LEAVES[0], REFERENCE_LEAVES[1]) == REFERENCE_ROOTS[2]


@pytest.mark.parametrize("size", range(len(REFERENCE_ROOTS)))
def test_root_matches_published_vector_for_every_size(size: int) -> None:
    leaves = REFERENCE_LEAVES[:size]
    compact = CompactRange()
    for leaf in leaves:
        compact.append(leaf)
    assert tree_root(leaves) == REFERENCE_ROOTS[size]
    assert compact.root() == REFERENCE_ROOTS[size]
    assert MerkleTree(leaves).root() == REFERENCE_ROOTS[size]
    assert MerkleTree(REFERENCE_LEAVES).root(size) == REFERENCE_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), REFERENCE_INCLUSION_PROOFS)
def test_inclusion_proof_matches_published_vector(index: int, size: int, path: list[bytes]) -> None:
    assert MerkleTree(REFERENCE_LEAVES).inclusion_proof(index, size) == path
    assert inclusion_proof(REFERENCE_LEAVES, index, size) == path
    assert verify_inclusion(REFERENCE_LEAVES[index], index, size, path, REFERENCE_ROOTS[size])


@pytest.mark.parametrize(("old", "new", "proof"), REFERENCE_CONSISTENCY_PROOFS)
def test_consistency_proof_matches_published_vector(old: int, new: int, proof: list[bytes]) -> None:
    assert MerkleTree(REFERENCE_LEAVES).consistency_proof(old, new) == proof
    assert consistency_proof(REFERENCE_LEAVES, old, new) == proof
    assert verify_consistency(old, new, REFERENCE_ROOTS[old], REFERENCE_ROOTS[new], proof)


def _corrupted_inclusion_probes(
    index: int, size: int, path: list[bytes], root: bytes, leaf: bytes
) -> list[tuple[str, int, int, list[bytes], bytes, bytes]]:
    probes = [
        ("index - 1", index - 1, size, path, root, leaf),
        ("index + 1", index + 1, size, path, root, leaf),
        ("index ^ 2", index ^ 2, size, path, root, leaf),
        ("size * 2", index, size * 2, path, root, leaf),
        ("size // 2", index, size // 2, path, root, leaf),
        ("wrong leaf", index, size, path, root, leaf_hash(b"WrongLeaf")),
        ("empty root", index, size, path, EMPTY_ROOT, leaf),
        ("random root", index, size, path, SOME_HASH, leaf),
        ("trailing garbage", index, size, [*path, b""], root, leaf),
        ("trailing root", index, size, [*path, root], root, leaf),
        ("preceding garbage", index, size, [b"", *path], root, leaf),
        ("preceding root", index, size, [root, *path], root, leaf),
    ]
    for position in range(len(path)):
        wrong = list(path)
        wrong[position] = _flip(wrong[position], 0, 0x08)
        probes.append((f"flipped bit in path[{position}]", index, size, wrong, root, leaf))
    if path:
        probes.append(("removed component", index, size, path[:-1], root, leaf))
    if len(path) > 1:
        probes.append(("inserted component", index, size, [path[0], SOME_HASH, *path[1:]], root, leaf))
    return probes


@pytest.mark.parametrize(("index", "size", "path"), REFERENCE_INCLUSION_PROOFS[1:])
def test_published_inclusion_proof_fails_when_corrupted_in_any_way(
    index: int, size: int, path: list[bytes]
) -> None:
    probes = _corrupted_inclusion_probes(index, size, path, REFERENCE_ROOTS[size], REFERENCE_LEAVES[index])
    accepted = [name for name, i, n, p, r, leaf in probes if verify_inclusion(leaf, i, n, p, r)]
    assert accepted == []


@pytest.mark.parametrize(("old", "new", "proof"), REFERENCE_CONSISTENCY_PROOFS[1:])
def test_published_consistency_proof_fails_when_corrupted_in_any_way(
    old: int, new: int, proof: list[bytes]
) -> None:
    old_root, new_root = REFERENCE_ROOTS[old], REFERENCE_ROOTS[new]
    probes = [
        ("old - 1", old - 1, new, old_root, new_root, proof),
        ("old + 1", old + 1, new, old_root, new_root, proof),
        ("old ^ 2", old ^ 2, new, old_root, new_root, proof),
        ("new * 2", old, new * 2, old_root, new_root, proof),
        ("new // 2", old, new // 2, old_root, new_root, proof),
        ("wrong old root", old, new, SOME_HASH, new_root, proof),
        ("wrong new root", old, new, old_root, SOME_HASH, proof),
        ("swapped roots", old, new, new_root, old_root, proof),
        ("empty proof", old, new, old_root, new_root, []),
        ("trailing garbage", old, new, old_root, new_root, [*proof, b""]),
        ("trailing old root", old, new, old_root, new_root, [*proof, old_root]),
        ("trailing new root", old, new, old_root, new_root, [*proof, new_root]),
        ("preceding garbage", old, new, old_root, new_root, [b"", *proof]),
        ("preceding old root", old, new, old_root, new_root, [old_root, *proof]),
        ("preceding new root", old, new, old_root, new_root, [new_root, *proof]),
        ("preceding proof[0]", old, new, old_root, new_root, [proof[0], *proof]),
        ("truncated proof", old, new, old_root, new_root, proof[:-1]),
    ]
    for position in range(len(proof)):
        wrong = list(proof)
        wrong[position] = _flip(wrong[position], 0, 0x10)
        probes.append((f"flipped bit in proof[{position}]", old, new, old_root, new_root, wrong))
    accepted = [name for name, m, n, r1, r2, p in probes if verify_consistency(m, n, r1, r2, p)]
    assert accepted == []


@pytest.mark.parametrize(
    ("old", "new", "same_roots", "proof", "valid"),
    [
        (0, 0, True, [], True),
        (0, 1, False, [], True),
        (1, 1, True, [], True),
        (0, 0, False, [], False),
        (1, 1, False, [], False),
        (1, 0, False, [], False),
        (2, 1, False, [], False),
        (1, 2, False, [], False),
        (0, 0, True, [EMPTY_ROOT], False),
        (0, 1, True, [EMPTY_ROOT], False),
        (1, 1, True, [EMPTY_ROOT], False),
    ],
)
def test_consistency_edge_cases_follow_the_rfc(
    old: int, new: int, same_roots: bool, proof: list[bytes], valid: bool
) -> None:
    old_root = SOME_HASH
    new_root = SOME_HASH if same_roots else EMPTY_ROOT
    assert verify_consistency(old, new, old_root, new_root, proof) is valid


def test_single_entry_tree_has_an_empty_path_and_its_leaf_as_root() -> None:
    leaf = leaf_hash(b"data")
    assert MerkleTree([leaf]).inclusion_proof(0) == []
    assert verify_inclusion(leaf, 0, 1, [], leaf)
    assert not verify_inclusion(leaf, 0, 1, [], SOME_HASH)
    assert not verify_inclusion(b"", 0, 1, [], leaf)


@pytest.mark.parametrize(("index", "size"), [(0, 0), (1, 0), (1, 1), (2, 1), (-1, 4)])
def test_inclusion_outside_the_tree_never_verifies(index: int, size: int) -> None:
    assert not verify_inclusion(SOME_HASH, index, size, [], EMPTY_ROOT)
    assert not verify_inclusion(SOME_HASH, index, size, [], SOME_HASH)


# --------------------------------------------------------------------------------------------------
# Exhaustive small trees and property tests against the naive model
# --------------------------------------------------------------------------------------------------


def test_every_proof_of_every_tree_up_to_40_leaves_matches_the_rfc_definition() -> None:
    leaves = _synthetic_leaves(40)
    tree = MerkleTree(leaves)
    for size in range(1, 41):
        root = _model_root(leaves[:size])
        assert tree.root(size) == root
        for index in range(size):
            path = tree.inclusion_proof(index, size)
            assert path == _model_path(index, leaves[:size])
            assert verify_inclusion(leaves[index], index, size, path, root)
        for old in range(1, size):
            proof = tree.consistency_proof(old, size)
            assert proof == _model_subproof(old, leaves[:size], True)
            assert verify_consistency(old, size, tree.root(old), root, proof)


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 5000), data=st.data())
def test_every_inclusion_proof_verifies_for_random_sizes(size: int, data: st.DataObject) -> None:
    leaves = _synthetic_leaves(size, salt=size)
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, size - 1))
    path = tree.inclusion_proof(index)
    assert verify_inclusion(leaves[index], index, size, path, tree.root())
    assert verify_inclusion(leaves[index], index, size, path, tree_root(leaves))


@settings(max_examples=150, deadline=None)
@given(size=st.integers(1, 5000), data=st.data())
def test_every_consistency_proof_verifies_for_random_sizes(size: int, data: st.DataObject) -> None:
    leaves = _synthetic_leaves(size, salt=size)
    tree = MerkleTree(leaves)
    old = data.draw(st.integers(0, size))
    proof = tree.consistency_proof(old, size)
    assert verify_consistency(old, size, tree.root(old), tree.root(size), proof)
    assert tree.root(old) == tree_root(leaves[:old])


@settings(max_examples=200, deadline=None)
@given(size=st.integers(2, 600), data=st.data())
def test_any_flipped_byte_in_an_inclusion_proof_root_or_leaf_fails(size: int, data: st.DataObject) -> None:
    leaves = _synthetic_leaves(size)
    tree = MerkleTree(leaves)
    index = data.draw(st.integers(0, size - 1))
    path, root, leaf = tree.inclusion_proof(index), tree.root(), leaves[index]
    target = data.draw(st.sampled_from(["path", "root", "leaf"]))
    byte = data.draw(st.integers(0, 31))
    mask = data.draw(st.integers(1, 255))
    if target == "path":
        position = data.draw(st.integers(0, len(path) - 1))
        path = [*path[:position], _flip(path[position], byte, mask), *path[position + 1 :]]
    elif target == "root":
        root = _flip(root, byte, mask)
    else:
        leaf = _flip(leaf, byte, mask)
    assert not verify_inclusion(leaf, index, size, path, root)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(3, 600), data=st.data())
def test_any_flipped_byte_in_a_consistency_proof_or_either_root_fails(size: int, data: st.DataObject) -> None:
    leaves = _synthetic_leaves(size)
    tree = MerkleTree(leaves)
    old = data.draw(st.integers(1, size - 1))
    proof, old_root, new_root = tree.consistency_proof(old), tree.root(old), tree.root()
    target = data.draw(st.sampled_from(["proof", "old root", "new root"]))
    byte = data.draw(st.integers(0, 31))
    mask = data.draw(st.integers(1, 255))
    if target == "proof":
        position = data.draw(st.integers(0, len(proof) - 1))
        proof = [*proof[:position], _flip(proof[position], byte, mask), *proof[position + 1 :]]
    elif target == "old root":
        old_root = _flip(old_root, byte, mask)
    else:
        new_root = _flip(new_root, byte, mask)
    assert not verify_consistency(old, size, old_root, new_root, proof)


@settings(max_examples=100, deadline=None)
@given(chunks=st.lists(st.integers(0, 300), max_size=8))
def test_a_tree_grown_in_any_chunks_equals_one_built_leaf_by_leaf(chunks: list[int]) -> None:
    leaves = _synthetic_leaves(sum(chunks))
    grown, one_by_one = MerkleTree(), MerkleTree()
    start = 0
    for chunk in chunks:
        grown.extend(leaves[start : start + chunk])
        start += chunk
    for leaf in leaves:
        one_by_one.append(leaf)
    assert grown.size == one_by_one.size == len(leaves)
    assert grown.root() == _model_root(leaves)
    for size in range(1, len(leaves) + 1):
        assert grown.root(size) == one_by_one.root(size)
        assert grown.inclusion_proof(size - 1, size) == one_by_one.inclusion_proof(size - 1, size)


def test_tree_refuses_leaf_hashes_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree([b"short"])
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"x" * 33)


def test_tree_refuses_proofs_outside_its_size() -> None:
    tree = MerkleTree(_synthetic_leaves(5))
    with pytest.raises(ValueError):
        tree.inclusion_proof(5)
    with pytest.raises(ValueError):
        tree.inclusion_proof(0, 6)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)


# --------------------------------------------------------------------------------------------------
# Canonical JSON
# --------------------------------------------------------------------------------------------------


def test_canonical_json_sorts_keys_drops_whitespace_and_writes_utf8() -> None:
    entry = {"type": "consent.signed", "b": [True, None, -3], "a": {"z": "é", "y": ""}}
    assert (
        canonical_json(entry) == '{"a":{"y":"","z":"é"},"b":[true,null,-3],"type":"consent.signed"}'.encode()
    )


def test_canonical_json_is_the_same_whatever_the_key_insertion_order() -> None:
    assert canonical_json({"a": 1, "b": {"c": 2, "d": 3}}) == canonical_json({"b": {"d": 3, "c": 2}, "a": 1})


@pytest.mark.parametrize("value", [1.0, 0.5, float("nan"), float("inf")])
def test_canonical_json_refuses_floats(value: float) -> None:
    with pytest.raises(TypeError, match="floats are not allowed"):
        canonical_json({"score": value})


def test_canonical_json_names_where_a_nested_float_is() -> None:
    with pytest.raises(TypeError, match=r"\$\.scope\.topics\[1\]"):
        canonical_json({"scope": {"topics": ["a", 2.5]}})


def test_canonical_json_refuses_non_string_keys() -> None:
    with pytest.raises(TypeError, match="keys must be strings"):
        canonical_json({1: "one"})


@pytest.mark.parametrize("value", [(1, 2), {1, 2}, b"bytes", object()])
def test_canonical_json_refuses_types_outside_json(value: object) -> None:
    with pytest.raises(TypeError, match="not allowed"):
        canonical_json({"value": value})


def test_canonical_json_refuses_integers_other_languages_would_round() -> None:
    assert canonical_json(2**53 - 1) == b"9007199254740991"
    with pytest.raises(ValueError, match="as a string"):
        canonical_json({"big": 2**53})


def test_canonical_json_refuses_lone_surrogates() -> None:
    with pytest.raises(ValueError, match="Unicode"):
        canonical_json({"text": "\ud800"})


@settings(max_examples=200)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
        lambda children: st.lists(children) | st.dictionaries(st.text(), children),
        max_leaves=20,
    )
)
def test_canonical_json_round_trips_through_any_json_parser(value: object) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(json.loads(encoded)) == encoded


# --------------------------------------------------------------------------------------------------
# Signed tree heads and keys
# --------------------------------------------------------------------------------------------------


def test_signed_tree_head_verifies_with_the_signing_key() -> None:
    key = generate_signing_key()
    head = sign_tree_head(key, 8, REFERENCE_ROOTS[8], 1_700_000_000_000)
    assert verify_tree_head(key.public_key(), head)
    assert head.root_hash == REFERENCE_ROOTS[8].hex()
    assert head.root_bytes() == REFERENCE_ROOTS[8]


def test_signed_payload_is_the_canonical_json_of_size_root_and_time() -> None:
    head = sign_tree_head(generate_signing_key(), 8, REFERENCE_ROOTS[8], 1_700_000_000_000)
    expected = (
        '{"root_hash":"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",'
        '"timestamp":1700000000000,"tree_size":8}'
    )
    assert head.signed_payload() == expected.encode()


def test_key_id_is_the_first_16_hex_digits_of_sha256_of_the_raw_public_key() -> None:
    key = generate_signing_key()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key_id(key) == key_id(key.public_key()) == hashlib.sha256(raw).hexdigest()[:16]
    assert sign_tree_head(key, 0, EMPTY_ROOT, 0).key_id == key_id(key)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 9},
        {"root_hash": REFERENCE_ROOTS[7].hex()},
        {"timestamp": 1_700_000_000_001},
        {"signature": "AAAA"},
        {"signature": "not base64!"},
        {"root_hash": REFERENCE_ROOTS[8].hex().upper()},
        {"key_id": "0000000000000000"},
    ],
)
def test_a_tampered_signed_tree_head_fails(change: dict[str, Any]) -> None:
    key = generate_signing_key()
    head = sign_tree_head(key, 8, REFERENCE_ROOTS[8], 1_700_000_000_000)
    tampered = replace(head, **change)
    assert not verify_tree_head(key.public_key(), tampered)


def test_a_signed_tree_head_fails_with_another_key() -> None:
    head = sign_tree_head(generate_signing_key(), 8, REFERENCE_ROOTS[8], 1_700_000_000_000)
    assert not verify_tree_head(generate_signing_key().public_key(), head)


def test_signed_tree_head_survives_export_and_import() -> None:
    key = generate_signing_key()
    head = sign_tree_head(key, 3, REFERENCE_ROOTS[3], 42)
    restored = SignedTreeHead.from_dict(json.loads(json.dumps(head.to_dict())))
    assert restored == head
    assert verify_tree_head(key.public_key(), restored)


@pytest.mark.parametrize(
    "change", [{"tree_size": -1}, {"tree_size": "8"}, {"timestamp": True}, {"root_hash": "zz"}, {"key_id": 7}]
)
def test_importing_a_malformed_signed_tree_head_is_refused(change: dict[str, object]) -> None:
    head = sign_tree_head(generate_signing_key(), 8, REFERENCE_ROOTS[8], 1)
    with pytest.raises(ValueError):
        SignedTreeHead.from_dict({**head.to_dict(), **change})


@pytest.mark.parametrize("password", [None, b"correct horse"])
def test_signing_keys_round_trip_through_pem(password: bytes | None) -> None:
    key = generate_signing_key()
    loaded = load_private_key_pem(private_key_to_pem(key, password), password)
    public = load_public_key_pem(public_key_to_pem(key.public_key()))
    head = sign_tree_head(loaded, 1, REFERENCE_ROOTS[1], 5)
    assert verify_tree_head(public, head)
    assert key_id(loaded) == key_id(key)


def test_loading_a_key_that_is_not_ed25519_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    private_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(TypeError, match="Ed25519"):
        load_private_key_pem(private_pem)
    with pytest.raises(TypeError, match="Ed25519"):
        load_public_key_pem(public_pem)


# --------------------------------------------------------------------------------------------------
# Verifying a stored log
# --------------------------------------------------------------------------------------------------


def _log(n: int) -> list[tuple[int, bytes, bytes]]:
    rows = []
    for sequence in range(n):
        entry = canonical_json({"seq": sequence, "type": "consent.signed", "clinic": sequence % 3})
        rows.append((sequence, entry, leaf_hash(entry)))
    return rows


def test_an_untouched_log_verifies_and_gives_the_tree_root() -> None:
    rows = _log(25)
    report = verify_log(rows)
    assert report.ok
    assert report.entry_count == 25
    assert report.first_bad_sequence is None
    assert report.root_hash == tree_root(leaf for _, _, leaf in rows)


def test_an_empty_log_verifies_with_the_empty_root() -> None:
    report = verify_log([])
    assert report.ok
    assert report.root_hash == EMPTY_ROOT


def test_verify_log_recomputes_the_published_root_from_the_reference_entries() -> None:
    rows = [(i, data, leaf_hash(data)) for i, data in enumerate(REFERENCE_LEAF_DATA)]
    assert verify_log(rows).root_hex == REFERENCE_ROOTS[8].hex()


def test_verify_log_pinpoints_an_altered_entry() -> None:
    rows = _log(25)
    sequence, entry, stored = rows[17]
    rows[17] = (sequence, entry.replace(b"consent.signed", b"consent.revoked"), stored)
    report = verify_log(rows)
    assert not report.ok
    assert report.first_bad_sequence == 17
    assert report.problem_count == 1
    first = report.first_problem
    assert first is not None and first.kind is LogProblemKind.LEAF_HASH_MISMATCH
    assert report.reason is not None and "entry 17" in report.reason


def test_verify_log_pinpoints_an_altered_leaf_hash() -> None:
    rows = _log(10)
    sequence, entry, stored = rows[3]
    rows[3] = (sequence, entry, _flip(stored, 31))
    assert verify_log(rows).first_bad_sequence == 3


def test_verify_log_names_the_missing_sequence_of_a_gap() -> None:
    rows = _log(10)
    del rows[4]
    report = verify_log(rows)
    assert report.first_bad_sequence == 4
    assert report.problem_count == 1
    first = report.first_problem
    assert first is not None and first.kind is LogProblemKind.SEQUENCE_GAP
    assert "sequence 4 is missing" in first.message


def test_verify_log_finds_a_swapped_order() -> None:
    rows = _log(10)
    rows[5], rows[6] = rows[6], rows[5]
    report = verify_log(rows)
    assert report.first_bad_sequence == 5
    assert {p.kind for p in report.problems} == {
        LogProblemKind.SEQUENCE_GAP,
        LogProblemKind.SEQUENCE_OUT_OF_ORDER,
    }


def test_verify_log_finds_a_log_that_does_not_start_at_zero() -> None:
    report = verify_log(_log(5)[1:])
    assert report.first_bad_sequence == 0


def test_verify_log_finds_a_duplicated_entry() -> None:
    rows = _log(6)
    rows.insert(3, rows[2])
    report = verify_log(rows)
    assert report.first_bad_sequence == 2
    first = report.first_problem
    assert first is not None and first.kind is LogProblemKind.SEQUENCE_OUT_OF_ORDER


def test_verify_log_accepts_memoryviews_as_a_postgres_driver_returns_them() -> None:
    rows = [(seq, memoryview(entry), memoryview(stored)) for seq, entry, stored in _log(9)]
    assert verify_log(rows).ok


def _heads_for(
    rows: list[tuple[int, bytes, bytes]], sizes: list[int], key: Ed25519PrivateKey
) -> list[SignedTreeHead]:
    tree = MerkleTree([stored for _, _, stored in rows])
    return [sign_tree_head(key, size, tree.root(size), 1000 + size) for size in sizes]


def test_verify_log_checks_every_signed_head_against_the_root_at_its_size() -> None:
    key = generate_signing_key()
    rows = _log(30)
    heads = _heads_for(rows, [0, 1, 7, 8, 30], key)
    report = verify_log(rows, heads=heads, public_keys=[key.public_key()])
    assert report.ok, report.problems


def test_a_rewritten_entry_with_a_recomputed_leaf_hash_is_caught_by_the_signed_head() -> None:
    key = generate_signing_key()
    rows = _log(20)
    heads = _heads_for(rows, [10, 20], key)
    forged = canonical_json({"seq": 12, "type": "consent.revoked", "clinic": 0})
    rows[12] = (12, forged, leaf_hash(forged))
    report = verify_log(rows, heads=heads, public_keys=[key.public_key()])
    assert [p.kind for p in report.problems] == [LogProblemKind.HEAD_ROOT_MISMATCH]
    assert report.problems[0].head == heads[1]


def test_a_truncated_log_is_caught_by_a_head_beyond_its_end() -> None:
    key = generate_signing_key()
    rows = _log(20)
    heads = _heads_for(rows, [20], key)
    report = verify_log(rows[:15], heads=heads)
    assert [p.kind for p in report.problems] == [LogProblemKind.HEAD_BEYOND_LOG]


def test_verify_log_reports_a_head_with_a_bad_signature_or_an_unknown_key() -> None:
    key, stranger = generate_signing_key(), generate_signing_key()
    rows = _log(12)
    good, by_stranger = _heads_for(rows, [6], key)[0], _heads_for(rows, [12], stranger)[0]
    forged = replace(good, timestamp=good.timestamp + 1)
    report = verify_log(rows, heads=[forged, by_stranger], public_keys=[key.public_key()])
    assert [p.kind for p in report.problems] == [
        LogProblemKind.HEAD_SIGNATURE_INVALID,
        LogProblemKind.HEAD_UNKNOWN_KEY,
    ]


def test_verify_log_reports_a_bigger_tree_signed_before_a_smaller_one() -> None:
    key = generate_signing_key()
    rows = _log(12)
    tree = MerkleTree([stored for _, _, stored in rows])
    heads = [sign_tree_head(key, 6, tree.root(6), 2000), sign_tree_head(key, 12, tree.root(12), 1000)]
    report = verify_log(rows, heads=heads, public_keys=[key.public_key()])
    assert [p.kind for p in report.problems] == [LogProblemKind.HEAD_TIMESTAMP_REGRESSED]


def test_check_tree_heads_applies_the_same_checks_to_a_built_tree() -> None:
    key = generate_signing_key()
    rows = _log(16)
    tree = MerkleTree([stored for _, _, stored in rows])
    heads = _heads_for(rows, [3, 16], key)
    assert check_tree_heads(tree, heads, [key.public_key()]) == []
    wrong = sign_tree_head(key, 5, tree.root(4), 1005)
    problems = check_tree_heads(tree, [*heads, wrong], [key.public_key()])
    assert [p.kind for p in problems] == [LogProblemKind.HEAD_ROOT_MISMATCH]
    assert [p.kind for p in check_tree_heads(MerkleTree([tree.leaf_hash(i) for i in range(10)]), heads)] == [
        LogProblemKind.HEAD_BEYOND_LOG
    ]


def test_verify_log_caps_the_problems_it_keeps_but_counts_them_all() -> None:
    rows = [(seq, entry + b" ", stored) for seq, entry, stored in _log(50)]
    report = verify_log(rows, max_problems=5)
    assert report.problem_count == 50
    assert len(report.problems) == 5
    assert report.first_bad_sequence == 0


def test_proofs_for_a_random_entry_verify_against_the_root_verify_log_recomputes() -> None:
    rows = _log(257)
    report = verify_log(rows)
    tree = MerkleTree([stored for _, _, stored in rows])
    index = random.Random(7).randrange(257)
    assert verify_inclusion(rows[index][2], index, 257, tree.inclusion_proof(index), report.root_hash)
