"""Amazon Personalize's APIs over Dummi, for boto3's own clients pointed at ``endpoint_url=".../personalize"``:
``personalize-runtime`` (runtime.py), ``personalize-events`` (events.py) and the filter operations of the
``personalize`` control plane (control.py); errors in the shapes botocore parses (errors.py), SigV4 (auth.py).
Each route reads the body, calls one service of ``dummi.services.personalize`` and answers in Personalize's
shape; none ranks or stores anything itself."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from dummi.api.personalize import control, credentials, events, runtime

    return [runtime.router, events.router, control.router, credentials.router]
