"""Refresh the message catalogs: extract the template, update each .po, compile each .mo.

Run it from anywhere with the project's virtualenv, after changing messages::

    .venv/bin/python scripts/update_catalog.py

Then translate the new or fuzzy entries in
``src/tlstrunk/locale/<lang>/LC_MESSAGES/tlstrunk.po`` and run it again, so
the compiled ``.mo`` files match.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "tlstrunk"
LOCALE = SOURCE / "locale"
TEMPLATE = LOCALE / "tlstrunk.pot"
LANGUAGES = ("ja",)


def pybabel(*arguments: str) -> None:
    """Run one pybabel command in this process and stop on its failure."""
    CommandLineInterface().run(["pybabel", "--quiet", *arguments])


def main() -> int:
    # relative paths keep the source references in the catalogs free of this checkout's location
    os.chdir(ROOT)
    pybabel(
        "extract",
        "--mapping-file", str(ROOT / "babel.cfg"),
        "--keyword", "_",
        "--keyword", "ngettext:1,2",
        "--project", "tlstrunk",
        "--version", "0.1.0",
        "--copyright-holder", "the tlstrunk developers",
        "--sort-by-file",
        "--width", "100",
        "--output-file", str(TEMPLATE.relative_to(ROOT)),
        str(SOURCE.relative_to(ROOT)),
    )
    for language in LANGUAGES:
        catalog = LOCALE / language / "LC_MESSAGES" / "tlstrunk.po"
        command = "update" if catalog.exists() else "init"
        pybabel(
            command,
            "--input-file", str(TEMPLATE),
            "--output-dir", str(LOCALE),
            "--domain", "tlstrunk",
            "--locale", language,
            "--width", "100",
        )
    pybabel("compile", "--directory", str(LOCALE), "--domain", "tlstrunk", "--statistics")
    return 0


if __name__ == "__main__":
    sys.exit(main())
