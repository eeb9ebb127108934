"""Enrolling photos: each photo read and hashed once, one batch at a time; photos kept when asked;
problems named by the labels given; and the rules the gallery decides for a caller that enrols
one subject (an unknown name refused before any embedding, and with ``strict`` nothing enrolled
is an error that says why)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceprint import Gallery
from faceprint.errors import BadImage, BadInput, NoFace, NothingEnrolled, UnknownSubject


def test_enrol_folder_reads_each_photo_once_one_batch_at_a_time(lfw: Path, tmp_path: Path, monkeypatch) -> None:
    """100k photos must not all be read into memory before the first batch is embedded, and the
    embedder gets the bytes read for the hash: no photo is read or hashed twice."""
    from faceprint.gallery import enrolment
    from faceprint.pipeline import batch
    from faceprint.pipeline.sources import ReadSource

    people = tmp_path / "people"
    count = 0
    for folder in sorted(p for p in lfw.iterdir() if p.is_dir()):
        if count >= enrolment.ENROL_BATCH + 10:
            break
        (people / folder.name).mkdir(parents=True)
        for p in sorted(folder.glob("*.jpg"))[:2]:
            (people / folder.name / p.name).write_bytes(p.read_bytes())
            count += 1
    read, kept, at_first_embed = [], [], []
    real_read = enrolment.read_source

    def counting_read(source):
        read.append(source)
        return real_read(source)

    class Stop(Exception):
        pass

    def first_embed(pipeline, sources, **kwargs):
        at_first_embed.append(len(read))
        kept.extend(sources)
        raise Stop

    monkeypatch.setattr(enrolment, "read_source", counting_read)
    monkeypatch.setattr(batch, "embed_sources", first_embed)
    with Gallery(tmp_path / "g.db") as g, pytest.raises(Stop):
        g.enrol_folder(people)
    assert at_first_embed == [enrolment.ENROL_BATCH], (at_first_embed, count)
    # read once: the embedder is handed the bytes and their hash, and reads nothing itself
    assert len(kept) == enrolment.ENROL_BATCH and all(isinstance(s, ReadSource) and s.sha256 for s in kept)
    assert [s.label for s in kept] == [str(p) for p in read]


def test_keep_photos_still_stores_the_photo(lfw: Path, tmp_path: Path) -> None:
    photo = sorted((lfw / "Serena_Williams").glob("*.jpg"))[1]
    with Gallery(tmp_path / "g.db") as g:
        assert g.enrol("Serena", [photo], keep_photos=True).added == 1
        (face,) = g.faces("Serena")
        assert g._store.photo(face.id) == photo.read_bytes()
        assert g.known_photos([face.sha256, "0" * 64]) == {face.sha256: "Serena"}


def test_enrol_names_problems_by_the_labels_given(tmp_path: Path, astronaut: Path) -> None:
    with Gallery(tmp_path / "g.db") as g:
        report = g.enrol("Eileen", [astronaut.read_bytes(), b"not a photo"], labels=["eileen.png", "notes.txt"])
        assert report.added == 1 and set(report.problems) == {"notes.txt"}
        with pytest.raises(BadInput, match="2 labels for 1 photos"):
            g.enrol("Eileen", [b"x"], labels=["a", "b"])


def test_enrol_without_create_refuses_an_unknown_name_before_embedding(tmp_path: Path, astronaut: Path,
                                                                       monkeypatch) -> None:
    from faceprint.pipeline import batch

    def embedded(*args, **kwargs):
        raise AssertionError("photos were embedded for a subject that does not exist")

    with Gallery(tmp_path / "g.db") as g:
        monkeypatch.setattr(batch, "embed_sources", embedded)
        with pytest.raises(UnknownSubject, match="Nobody"):
            g.enrol("Nobody", [astronaut], create=False)
        monkeypatch.undo()
        assert g.subjects() == []
        g.add_subject("Eileen")
        assert g.enrol("Eileen", [astronaut], create=False).added == 1


def test_strict_enrol_says_why_nothing_went_in(tmp_path: Path, astronaut: Path) -> None:
    blank = np.full((200, 200, 3), 128, np.uint8)
    with Gallery(tmp_path / "g.db") as g:
        # not one upload is an image: BadImage, naming each
        with pytest.raises(BadImage, match=r"no photo could be read to enrol into 'Eileen': a.txt: .*; b.txt: "):
            g.enrol("Eileen", [b"not a photo", b"nor this"], labels=["a.txt", "b.txt"], strict=True)
        # images, but no face: NoFace
        with pytest.raises(NoFace, match="no photo could be enrolled into 'Eileen': grey.png: no face found"):
            g.enrol("Eileen", [blank, b"junk"], labels=["grey.png", "junk.bin"], strict=True)
        assert g.subjects() == []  # nothing half-made
        assert g.enrol("Eileen", [astronaut], strict=True).added == 1
        # the same photo again for the same subject: a duplicate of hers, not an error
        again = g.enrol("Eileen", [astronaut], strict=True)
        assert (again.added, again.skipped_duplicates) == (0, 1)
        # the same photo for someone else: nothing enrolled, and the note says whose it is
        with pytest.raises(NothingEnrolled, match="nothing enrolled into 'Other': .*enrolled already as 'Eileen'"):
            g.enrol("Other", [astronaut], strict=True)
        with pytest.raises(UnknownSubject):
            g.subject("Other")
        # a subject that exists is left as it was: no error, the note says whose the photo is
        g.add_subject("Kept")
        kept = g.enrol("Kept", [astronaut], strict=True)
        assert (kept.added, kept.skipped_duplicates) == (0, 1) and "'Eileen'" in kept.notes[0]
        # without strict the same outcomes are reported, not raised
        report = g.enrol("Other", [astronaut, b"junk"], labels=["a.png", "junk.bin"])
        assert report.added == 0 and report.skipped_duplicates == 1 and set(report.problems) == {"junk.bin"}
