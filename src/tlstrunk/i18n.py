"""Translation of user-facing messages through gettext.

Every message a user reads (CLI output, errors, demo steps) goes through ``_``.
Catalogs live in ``tlstrunk/locale/<lang>/LC_MESSAGES/tlstrunk.mo``; without a
catalog for the current locale the English source text is shown.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"

_translation = gettext.translation("tlstrunk", localedir=LOCALE_DIR, fallback=True)


def _(message: str) -> str:
    """Return ``message`` translated into the current locale's language."""
    return _translation.gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form of a message for ``count``."""
    return _translation.ngettext(singular, plural, count)
