"""Batch recommendations: files of users or items answered in chunks (``dummi batch-recommend``, /batch-jobs)."""
