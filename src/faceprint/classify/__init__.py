"""Transfer learning on embeddings: closed-set naming with a scikit-learn classifier."""
