"""Faces in video: read frames, detect every N frames, track in between, name tracks by a vote.

``track_video(source, gallery, detect_every=5)`` returns a ``Timeline``; any other way of naming
vectors plugs in as ``identify=`` (``gallery_identifier(gallery)`` is the gallery's). Shot cuts
(``CutDetector``) end following by place; tracks link by their own exemplar faces, split where
they hold two people, and share an identity per person (``video.identity``).
Nothing heavy is imported until a function runs.
"""

from faceprint.video.cuts import CutDetector
from faceprint.video.identify import gallery_identifier
from faceprint.video.process import track_video
from faceprint.video.timeline import Timeline, TrackSummary
from faceprint.video.vote import UNKNOWN, Vote, vote

__all__ = ["track_video", "gallery_identifier", "CutDetector", "Timeline", "TrackSummary", "UNKNOWN", "Vote", "vote"]
