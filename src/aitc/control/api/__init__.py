"""The REST API of the control plane (FastAPI, under /api/v1)."""

from aitc.control.api.app import API_PREFIX, create_app
from aitc.control.api.settings import Settings

__all__ = ["API_PREFIX", "Settings", "create_app"]
