"""A source with no readable frame is refused as BadInput before any annotated file is made."""

from __future__ import annotations

import pytest

from faceprint.errors import BadInput


def test_track_video_raises_when_no_frame_can_be_read(tmp_path):
    from faceprint.video import track_video

    text = tmp_path / "notes.jpg"
    text.write_text("not a video\n")
    with pytest.raises(BadInput, match="no frame could be read"):
        track_video(text, annotate=tmp_path / "a.avi")
    assert not (tmp_path / "a.avi").exists()
