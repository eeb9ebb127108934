"""SQLite binds at most ``IN_CHUNK`` values in one IN list: every lookup by many ids answers for all
of them, past the chunk boundary, with nothing lost or repeated."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceprint.gallery.sqlite_store import IN_CHUNK


def test_lookups_by_more_ids_than_one_statement_binds(tmp_path: Path) -> None:
    from faceprint import Gallery

    n = 2 * IN_CHUNK + 7
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"p{i % 3}" for i in range(n)]
    with Gallery(tmp_path / "g.db") as g:
        g.add_vectors(names, vectors)
        store = g._store
        ids = store.ids().tolist()
        assert len(ids) == n
        subjects = store.face_subjects(ids + [10**9])  # an id not in the store is left out
        assert len(subjects) == n and sorted(set(subjects.values())) == ["p0", "p1", "p2"]
        got = np.concatenate([chunk for _, chunk in store.vectors(ids)])
        assert got.shape == (n, 128)
        people = store.people_store()
        owners = people.face_persons(ids)
        assert len(owners) == n
        sizes = people.person_sizes({owner for owner, _ in owners.values()})
        assert sorted(sizes.values()) == sorted(names.count(p) for p in ("p0", "p1", "p2"))
        records = people.faces(ids=ids[::-1])
        assert [r.id for r in records] == sorted(ids)
