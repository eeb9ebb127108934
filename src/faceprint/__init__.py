"""faceprint: offline face recognition on an ordinary CPU.

Importing the package loads no model; models load on first use.
"""

from faceprint.api import align, compare, detect, embed, embed_face, embed_many, load_image, verify
from faceprint.clustering import ClusterResult, cluster
from faceprint.errors import BadImage, FaceprintError, ModelNotAvailable, NoFace
from faceprint.gallery import Gallery
from faceprint.types import Box, Detection, Embedding, FaceChip, ImageFaces, Verification

__all__ = [
    "align", "compare", "detect", "embed", "embed_face", "embed_many", "load_image", "verify",
    "Gallery", "cluster", "ClusterResult", "BadImage", "FaceprintError", "ModelNotAvailable", "NoFace",
    "Box", "Detection", "Embedding", "FaceChip", "ImageFaces", "Verification",
]
__version__ = "0.1.0"
