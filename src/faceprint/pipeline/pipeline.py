"""One object that holds a detector and an embedder and runs the stages in order.

``Pipeline`` is the one route from a decoded image to its faces, used by the facade, ``embed_many``,
the gallery, the service, evaluation and the CLI: ``find_faces`` (detect, with YuNet's fallback
where a face is expected; only the face nearest the centre where one face is wanted), then
``prepare_chips`` (align) and ``embed_chips`` (one network call over the faces of many images).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

from faceprint import quality, registry
from faceprint.errors import BadInput, NoFace
from faceprint.models.detectors import RawFace
from faceprint.pipeline.align import ALIGN_POINTS
from faceprint.pipeline.detect import FALLBACK_SCORE, PROFILE_YAW, detect_faces
from faceprint.pipeline.embed import ChipEmbedder, FusedEmbedder
from faceprint.types import Detection, Embedding, nearest_center

log = logging.getLogger(__name__)

# The version of what a config produces (detection, landmarks, alignment, networks), part of every
# signature: change it whenever those change, so vectors made before are never compared with new ones.
VECTOR_REVISION = "rev3"


class PreparedFace(NamedTuple):
    """One face ready for the network (``Pipeline.prepare_chips``): its cues known before the
    network runs (``quality.detection_cues``) and what the embedder takes (aligned chips, their
    mirrors, fusion weights)."""

    cues: dict
    prepared: tuple


@dataclass(frozen=True)
class PipelineConfig:
    """Every knob of the pipeline; hashable so pipelines are cached per configuration."""

    detector: str = ""
    model: str = "dlib"
    score_threshold: float | None = None
    upsample: int | None = None
    min_face_size: float = 0.0
    max_faces: int | None = None
    flip: bool = True
    jitter: int = 0
    averaged_landmarks: bool = True
    mirror_align: bool = True  # flip view: the mirrored face aligned in its own right (embed.ChipEmbedder)
    landmark_box: str = "keypoints"  # the box dlib's landmarks start from (detect.LANDMARK_BOXES)
    # fused models: a turned face gets the model's profile weights (embed.FusedEmbedder); inert while
    # no shipped model has any (EmbedderSpec.profile_fusion_weights); kept: signatures name it
    pose_fusion: bool = True
    # yunet, where a face is expected (verify, eval pairs): a photo with no face at score_threshold
    # gets its best face down to this score
    fallback_score: float | None = FALLBACK_SCORE
    # the points that place the chips (align.ALIGN_POINTS): "5" (dlib's 5-point model, the detector's
    # keypoints) or "68" (dlib's 68 landmarks); "" takes the model's own (EmbedderSpec.align_points)
    align_points: str = ""

    def resolved(self) -> "PipelineConfig":
        """The defaults filled in (detector, align_points); UnknownModel for a model or detector the
        registry does not know, BadInput for other settings out of range."""
        config = self if self.detector else replace(self, detector=registry.default_detector())
        registry.detector_spec(config.detector)
        spec = registry.embedder_spec(config.model)
        if not config.align_points:
            config = replace(config, align_points=spec.align_points)
        if config.align_points not in ALIGN_POINTS:
            raise BadInput(f"align_points must be one of {', '.join(ALIGN_POINTS)}, not {config.align_points!r}")
        return config


class Pipeline:
    """image -> detections -> chips -> embeddings, with the models loaded once."""

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = (config or PipelineConfig()).resolved()
        self.spec = registry.embedder_spec(self.config.model)
        self._detector = None
        self._fallback = None
        self._embedder = None

    @property
    def detector(self):
        if self._detector is None:
            options = {}
            if self.config.score_threshold is not None:
                options["score_threshold"] = self.config.score_threshold
            if self.config.upsample is not None:
                options["upsample"] = self.config.upsample
            self._detector = registry.create_detector(self.config.detector, **options)
        return self._detector

    @property
    def fallback_detector(self):
        """YuNet down to ``fallback_score``, run instead of ``detector`` where a face is expected
        (``detect(expect_face=True)``): one pass, whose faces at the detector's threshold are kept
        or, when none reaches it, the best one. None where there is no fallback."""
        if self.config.detector != "yunet" or self.config.fallback_score is None \
                or self.config.fallback_score >= self.detector.score_threshold:
            return None
        if self._fallback is None:
            options = {} if self.config.upsample is None else {"upsample": self.config.upsample}
            self._fallback = registry.create_detector("yunet", score_threshold=self.config.fallback_score, **options)
        return self._fallback

    @property
    def embedder(self) -> ChipEmbedder | FusedEmbedder:
        """The model's embedder (networks load on first use)."""
        if self._embedder is None:
            views = (self.config.flip, self.config.jitter, self.config.mirror_align, self.config.align_points)
            if self.spec.members:
                members = [ChipEmbedder(registry.create_embedder(name), registry.embedder_spec(name).align, *views)
                           for name in self.spec.members]
                profile = self.spec.profile_fusion_weights if self.config.pose_fusion else ()
                self._embedder = FusedEmbedder(members, self.spec.fusion_weights, profile or None, PROFILE_YAW)
            else:
                self._embedder = ChipEmbedder(registry.create_embedder(self.config.model), self.spec.align, *views)
        return self._embedder

    def signature(self) -> str:
        """A short stable name for what shapes the vectors (model, detector, views, revision, and
        for a model file its size and mtime): vectors of different signatures are not comparable."""
        import hashlib
        from pathlib import Path

        c = self.config
        parts = [c.model, c.detector, f"flip={c.flip}", f"jitter={c.jitter}", f"avg={c.averaged_landmarks}",
                 f"mirror={c.mirror_align}", f"box={c.landmark_box}", f"posefusion={c.pose_fusion}",
                 f"fallback={c.fallback_score}", VECTOR_REVISION]
        if c.align_points != "5":  # named only when not "5", so "5" keeps the signatures galleries hold
            parts.append(f"points={c.align_points}")
        if c.upsample is not None:  # it moves the detector's keypoints, so the landmarks and the vectors
            parts.append(f"upsample={c.upsample}")
        if self.spec.members:  # re-fitted fusion weights change every fused vector
            parts.append(f"fusion={self.spec.fusion_weights}/{self.spec.profile_fusion_weights}")
        model = Path(c.model)
        stamp = registry.model_file_stamp(c.model)
        if stamp is not None:  # the .onnx file's size and mtime only: the signatures galleries already hold
            parts.append(f"{model.resolve()}|{stamp[0]}|{stamp[1]}")
        digest = hashlib.sha1("|".join(parts).encode()).hexdigest()[:12]
        label = model.stem if c.model.endswith(".onnx") else c.model
        return f"{label}:{digest}"

    def detect(self, image: np.ndarray, landmarks: int = 5, faces: Sequence[RawFace] | None = None,
               expect_face: bool = False) -> list[Detection]:
        """Every face with its landmarks, highest detector score first.

        Args:
            image: an RGB uint8 array.
            landmarks: 5, or 68 to add the 68-point shape (always 68 with ``align_points="68"``).
            faces: the detector's output computed already (for timing the stages apart): the
                detector is not run again.
            expect_face: the photo is known to hold a face (one side of a pair, a photo to
                verify): when none reaches the detector's threshold, take the best one down to
                ``config.fallback_score`` (``fallback_detector``).

        Returns:
            One ``Detection`` per face kept.

        Raises:
            BadInput: ``landmarks`` other than 5 or 68, or an unknown landmark box.
        """
        detector, threshold = self.detector if faces is None else (lambda _: faces), None
        if faces is None and expect_face and self.fallback_detector is not None:
            detector, threshold = self.fallback_detector, self.detector.score_threshold
        if self.config.align_points == "68":
            landmarks = 68  # the chips are placed by them
        found = detect_faces(image, detector, self.config.detector, landmarks,
                             self.config.min_face_size, self.config.max_faces, self.config.averaged_landmarks,
                             self.config.landmark_box, score_threshold=threshold)
        return [replace(d, quality=quality.detection_quality(d, image)) for d in found]

    def warm(self) -> None:
        """Load the detector and the networks by running each once on a stand-in face, so the first
        real photo does not pay for it (a service does this before it says it is ready)."""
        from faceprint.types import Box

        image = np.full((160, 160, 3), 128, np.uint8)
        self.detect(image)
        points = np.array([[104, 62], [90, 62], [56, 62], [70, 62], [80, 95]], np.float64)  # dlib's 5
        keypoints = np.array([[62, 62], [98, 62], [80, 85], [65, 105], [95, 105]], np.float64)
        points68 = np.tile(keypoints.mean(0), (68, 1))  # enough of a shape for align_points="68"
        points68[36:42], points68[42:48], points68[30] = keypoints[0], keypoints[1], keypoints[2]
        points68[[45, 42, 36, 39, 33]] = points
        points68[48], points68[54] = keypoints[3], keypoints[4]
        stand_in = Detection(Box(40, 30, 120, 130), 1.0, points, points68, "warm-up", keypoints)
        self.embedder.embed_prepared([self.embedder.prepare(image, stand_in)])

    def find_faces(self, image: np.ndarray, expect_face: bool = False, one: bool = False,
                   faces: Sequence[RawFace] | None = None) -> tuple[list[Detection], int]:
        """The faces to embed in an image: the first step of every route from images to vectors.

        Args:
            image: an RGB uint8 array (``images.load_image``).
            expect_face: the photo is known to hold a face: YuNet's fallback applies (``detect``).
            one: keep only the face nearest the image's centre (``types.nearest_center``).
            faces: the detector's output computed already (timing the stages apart).

        Returns:
            The detections kept, and how many the detector found (more than kept with ``one``).

        Raises:
            BadInput: a setting out of range (landmarks, landmark box).
        """
        # the detector's output given: no fallback to run (``detect`` ignores expect_face then)
        detections = self.detect(image, expect_face=expect_face) if faces is None else self.detect(image, faces=faces)
        found = len(detections)
        if one and found > 1:
            detections = [detections[nearest_center(detections, image.shape)]]
        return detections, found

    def prepare_chips(self, image: np.ndarray, detections: Sequence[Detection]) -> list:
        """What the network takes for each face (aligned chips, and their mirrors where used).

        Args:
            image: the RGB array the detections were found in.
            detections: the faces to prepare.

        Returns:
            One ``PreparedFace`` per detection, for ``embed_chips``.
        """
        embedder = self.embedder
        return [PreparedFace(quality.detection_cues(d, image), embedder.prepare(image, d)) for d in detections]

    def embed_chips(self, chips_per_image: Sequence[Sequence]) -> list[np.ndarray]:
        """Every prepared face of several images, through the network in one call.

        Each face is embedded on its own, whatever batch it lands in: the vectors do not depend
        on how the images are grouped.

        Args:
            chips_per_image: for each image, its faces from ``prepare_chips``.

        Returns:
            For each image, a (faces, dim) float array of L2-normalised vectors.
        """
        flat = [face.prepared for chips in chips_per_image for face in chips]
        if not flat:
            return [np.zeros((0, self.spec.dim), np.float32) for _ in chips_per_image]
        vectors = self.embedder.embed_prepared(flat)
        out, start = [], 0
        for chips in chips_per_image:
            out.append(vectors[start : start + len(chips)])
            start += len(chips)
        return out

    def embed_chips_scored(self, chips_per_image: Sequence[Sequence[PreparedFace]]
                           ) -> list[tuple[np.ndarray, list[float]]]:
        """``embed_chips``, with each face's quality (``faceprint.quality``, every cue).

        Args:
            chips_per_image: for each image, its faces from ``prepare_chips``.

        Returns:
            For each image, its (faces, dim) vectors (the same as ``embed_chips``) and one quality
            score in [0, 1] per face.
        """
        model = self.config.model
        return [(vectors, [quality.score(c, model) for c in cues])
                for vectors, cues in self.embed_chips_cues(chips_per_image)]

    def embed_chips_cues(self, chips_per_image: Sequence[Sequence[PreparedFace]]
                         ) -> list[tuple[np.ndarray, list[dict[str, float]]]]:
        """``embed_chips``, with each face's quality cues by name (``quality.ALL_CUES``): what the
        quality fitter and benchmark read.

        Args:
            chips_per_image: for each image, its faces from ``prepare_chips``.

        Returns:
            For each image, its (faces, dim) vectors and one dict of cues per face.
        """
        flat = [chip for chips in chips_per_image for chip in chips]
        if not flat:
            return [(np.zeros((0, self.spec.dim), np.float32), []) for _ in chips_per_image]
        embedder = self.embedder
        vectors, signals = embedder.embed_prepared_signals([face.prepared for face in flat])
        cues = []
        for face, (norm, mirror) in zip(flat, signals):
            face_cues = {**face.cues, "norm": float(norm)}
            if not np.isnan(mirror):
                face_cues["mirror"] = float(mirror)
            cues.append(face_cues)
        out, start = [], 0
        for chips in chips_per_image:
            out.append((vectors[start : start + len(chips)], cues[start : start + len(chips)]))
            start += len(chips)
        return out

    def embed(self, image: np.ndarray, detections: Sequence[Detection]) -> list[Embedding]:
        """One embedding per given face.

        Args:
            image: the RGB array the detections were found in.
            detections: the faces to embed (``detect`` or ``find_faces``).

        Returns:
            One ``Embedding`` per detection, in order (empty for none).
        """
        if not detections:
            return []
        vectors, scores = self.embed_chips_scored([self.prepare_chips(image, detections)])[0]
        return [Embedding(v, self.config.model, d, q) for v, d, q in zip(vectors, detections, scores)]

    def embed_one(self, image: np.ndarray, source: str = "image") -> tuple[Embedding, list[str]]:
        """The embedding of the face nearest the centre (YuNet's fallback applies).

        Args:
            image: an RGB uint8 array.
            source: the photo's name in messages.

        Returns:
            The embedding (with its quality), and notes: one when the photo held several faces,
            one when the face is poor (``quality.is_poor``), with its score and weakest cue.

        Raises:
            NoFace: the photo holds no face.
        """
        detections, found = self.find_faces(image, expect_face=True, one=True)
        if not detections:
            raise NoFace(f"{source}: no face found (try --upsample 1 or another --detector)")
        notes = []
        if found > 1:
            notes.append(f"{source}: {found} faces found; used the one nearest the centre")
            log.info(notes[-1])
        (vectors, (cues,)), = self.embed_chips_cues([self.prepare_chips(image, detections)])
        score = quality.score(cues, self.config.model)
        if quality.is_poor(score):
            why = quality.weakest_cue(cues, self.config.model) or "unclear face"
            notes.append(f"{source}: poor quality {score:.2f} ({why}); the answer is less reliable")
            log.info(notes[-1])
        return Embedding(vectors[0], self.config.model, detections[0], score), notes


def get_pipeline(config: PipelineConfig) -> Pipeline:
    """A process-wide pipeline per configuration, so models load once. A model file (``.onnx``)
    rewritten since it was loaded (trained and exported again), or its sidecar, is loaded again."""
    return _cached_pipeline(config, registry.model_file_stamp(config.model))


@lru_cache(maxsize=8)
def _cached_pipeline(config: PipelineConfig, stamp: tuple[int, ...] | None) -> Pipeline:
    return Pipeline(config)


get_pipeline.cache_clear = _cached_pipeline.cache_clear  # type: ignore[attr-defined]
