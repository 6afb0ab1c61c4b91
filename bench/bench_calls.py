"""Run the calls, handshakes and memory comparison with Kamailio: ``tlstrunk bench``.

Run: ``python bench/bench_calls.py [--quick] [--out DIR] [--keep DIR]``. The
options are those of ``tlstrunk bench``; see ``tlstrunk bench --help``.
"""

from __future__ import annotations

import typer

from tlstrunk.admin.bench_cmd import app

if __name__ == "__main__":
    typer.main.get_command(app)(prog_name="bench_calls.py")
