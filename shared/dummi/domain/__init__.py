"""The bottom layer: plain types several layers share (pydantic models, dataclasses, enums). It imports nothing
of dummi but ``dummi.errors``; every other layer may import it (the contract in pyproject.toml holds this)."""
