"""Run the web app with uvicorn over HTTPS in a thread, on a loopback address, for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from tlstrunk.admin.web_cmd import tls_files
from tlstrunk.web.app import create_app

#: Seconds to wait for uvicorn to start listening before the test gives up.
START_TIMEOUT = 30.0


@contextmanager
def serve_https(node_dir: Path, address: str, port: int) -> Iterator[str]:
    """Serve the node's web app on ``address:port`` and yield its base URL."""
    cert_file, key_file, _password = tls_files(node_dir, None)
    config = uvicorn.Config(
        create_app(node_dir),
        host=address,
        port=port,
        ssl_certfile=str(cert_file),
        ssl_keyfile=str(key_file),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on {address}:{port}")
        time.sleep(0.05)
    try:
        yield f"https://{address}:{port}"
    finally:
        server.should_exit = True
        thread.join()
