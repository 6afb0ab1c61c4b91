"""A short, low-rate run through Kamailio: every call connects and ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tlstrunk.perf.calls import RunSettings, open_kamailio, run_rate
from tlstrunk.perf.kamailio import kamailio_binary

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        kamailio_binary() is None,
        reason="kamailio is not installed; install the Debian packages kamailio and "
        "kamailio-tls-modules to run the Kamailio load test.",
    ),
]


def test_low_rate_through_kamailio(tmp_path: Path) -> None:
    with open_kamailio(tmp_path) as path:
        result = run_rate(path, 10.0, RunSettings(seconds=2.0, hold=0.2, invite_timeout=5.0))
    assert result.attempted == 20
    assert result.failures == {}
    assert result.connected == 20
    assert result.completed == 20
    assert result.setup.p50 is not None
    names = [usage.name for usage in result.usage]
    assert names == ["kamailio", "generator UAS", "generator UAC"]
    kamailio = result.usage[0]
    assert kamailio.processes > 1
    assert kamailio.peak_rss_kib > 0
