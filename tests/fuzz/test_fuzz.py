"""Bounded fuzzing of the SIP, SDP and SDES parsers with atheris (libFuzzer)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
SIP_DATA = HERE.parent / "sip" / "data"
RUNS = 20_000
MAX_SECONDS = 120


@pytest.mark.fuzz
def test_parsers_raise_only_protocol_errors(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for source in [*SIP_DATA.glob("*.sip"), *SIP_DATA.glob("rfc4475/*.sip"),
                   *SIP_DATA.glob("rfc5118/crlf/*.sip")]:
        shutil.copy(source, corpus / f"{source.parent.name}-{source.name}")
    (corpus / "crypto").write_bytes(
        b"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4")
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_sip.py"), str(corpus), f"-runs={RUNS}",
         f"-max_total_time={MAX_SECONDS}", "-max_len=4096", "-seed=1"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Done" in result.stderr
