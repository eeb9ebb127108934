"""The pipeline stages: detect -> align -> embed -> match, composed by ``pipeline.Pipeline``."""
