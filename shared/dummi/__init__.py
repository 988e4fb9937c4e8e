"""Dummi: a serverless hybrid content-recommendation engine (domain library shared by every function)."""

__version__ = "0.1.0"
