"""Shared fixtures: a real SQLite store in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from config_helpers import TLS_PROFILE, TLS_TRUNK

from tlstrunk.config import ConfigStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ConfigStore]:
    opened = ConfigStore(tmp_path / "node" / "config.db")
    yield opened
    opened.close()


@pytest.fixture
def cucma(store: ConfigStore) -> ConfigStore:
    """A store configured like cluster CUCMA of the two-cluster lab."""
    store.set_node("CUCMA", "127.0.0.203")
    store.add_security_profile(TLS_PROFILE)
    store.add_trunk(TLS_TRUNK)
    store.add_route_pattern("9898", "CUCM10")
    store.add_directory_number("1018")
    return store
