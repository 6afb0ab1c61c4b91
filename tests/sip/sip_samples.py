"""Shared helpers of the SIP core tests."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"


def sample(name: str) -> bytes:
    """Return the bytes of a stored sample message."""
    return (DATA / name).read_bytes()
