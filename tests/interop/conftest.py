"""Fixtures shared by the interop tests that run third-party SIP stacks."""

from __future__ import annotations

import pytest
from pjsua_runner import EXIT_IMPORT_FAILED, run_pjsua_peer


@pytest.fixture(scope="session")
def pjsua2_peer() -> None:
    """Skip when pjsua2 cannot be imported, and fail when it was built without TLS.

    The check runs ``pjsua_peer.py probe`` in a subprocess so that pjsua2 never
    loads into the pytest process.
    """
    run = run_pjsua_peer(["probe"], timeout=30)
    result = run.result or {}
    if run.returncode == EXIT_IMPORT_FAILED:
        pytest.skip(str(result.get("detail", "import pjsua2 failed")))
    if not run.ok:
        pytest.fail(
            "pjsua2 loads but cannot create a TLS transport (PJSIP_TRANSPORT_TLS); "
            "install a pjsua2 build with TLS support.\n" + run.describe()
        )
