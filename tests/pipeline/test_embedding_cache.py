"""embed_paths with an EmbeddingCache: each file read once, bad paths reported, vectors kept by content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import faceprint


def test_embed_paths_with_a_cache_reports_a_nul_path(photo: Path, tmp_path: Path) -> None:
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    pipe = get_pipeline(PipelineConfig())
    cache = EmbeddingCache(pipe, tmp_path)
    cache.put("0" * 64, None)  # a cache with entries: every path is hashed to look it up
    bad = Path("bad\0name.jpg")
    vectors, problems = embed_paths(pipe, [photo, bad], cache=cache)
    assert vectors[photo] is not None and vectors[bad] is None
    assert "path" in problems[bad]
    assert EmbeddingCache(pipe, tmp_path).entries.keys() == {"0" * 64, faceprint.embed_many([photo])[0].sha256}


def test_embed_paths_reads_each_file_once(photos: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceprint.pipeline.batch import embed_paths
    from faceprint.pipeline.cache import EmbeddingCache
    from faceprint.pipeline.pipeline import PipelineConfig, get_pipeline

    pipe = get_pipeline(PipelineConfig())
    cache = EmbeddingCache(pipe, tmp_path)
    cache.put("0" * 64, None)  # a cache with entries: each photo is looked up by content
    reads: list[Path] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    vectors, problems = embed_paths(pipe, photos, cache=cache)
    assert sorted(reads) == sorted(photos) and problems == {}
    assert all(vectors[p] is not None for p in photos)
    reads.clear()
    again, _ = embed_paths(pipe, photos, cache=EmbeddingCache(pipe, tmp_path))  # all found in the cache
    assert sorted(reads) == sorted(photos)
    assert all(np.array_equal(again[p], vectors[p]) for p in photos)
