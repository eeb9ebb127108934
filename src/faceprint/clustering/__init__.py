"""Clustering a photo collection into people: average linkage with a cannot-link rule for faces
of one photo (``linkage``), the facade ``cluster`` (``api``), and scores (``metrics``)."""

from faceprint.clustering.api import (Cluster, ClusterResult, FaceRef, cluster, cluster_vectors,
                                   default_threshold)

__all__ = ["Cluster", "ClusterResult", "FaceRef", "cluster", "cluster_vectors",
           "default_threshold"]
