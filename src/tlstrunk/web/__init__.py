"""Admin web pages and REST API of a node, served over HTTPS by ``tlstrunk web run``."""

from __future__ import annotations

from tlstrunk.web.app import create_app

__all__ = ["create_app"]
