"""``fit.embedding.every_face``: every face of real LFW photos, the photo's name on the face nearest
its centre only (the labelling every clustering bench and fitter scores against)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def test_every_face_names_only_the_face_nearest_each_centre(lfw: Path, tmp_path: Path) -> None:
    from faceprint import embed_many
    from faceprint.fit.embedding import every_face

    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a photo")
    paths = [lfw / "George_W_Bush" / "George_W_Bush_0018.jpg", bad, lfw / "Tony_Blair" / "Tony_Blair_0001.jpg"]
    results = embed_many(paths)
    found = every_face(results, ["George_W_Bush", "broken", "Tony_Blair"], first=10)
    assert len(results[0].faces) == 4 and not results[1].ok  # a crowd photo and a file that is no photo
    assert found["vectors"].shape == (len(results[0].faces) + len(results[2].faces), 128)
    assert found["vectors"].dtype == np.float32 and found["boxes"].shape == (len(found["vectors"]), 4)
    assert set(found["photo"]) == {10, 12}  # numbered from ``first``; the broken file has no face
    bush = found["label"][found["photo"] == 10]
    assert sorted(bush) == ["", "", "", "George_W_Bush"]  # only the face nearest the centre is his
    centre = results[0].nearest_center()
    assert np.array_equal(found["vectors"][found["label"] == "George_W_Bush"][0], centre.vector)
    assert list(found["label"][found["photo"] == 12]).count("Tony_Blair") == 1
    assert every_face([], [])["vectors"].shape[0] == 0
