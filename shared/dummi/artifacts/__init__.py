"""Versioned model artifacts: a store chosen by URI, publishing (blobs first, pointer last), a cached loader."""
