"""Translation of user-facing messages through gettext.

Every message a user reads (CLI output, errors, demo steps) goes through ``_``
or ``ngettext``. Catalogs live in
``tlstrunk/locale/<lang>/LC_MESSAGES/tlstrunk.mo``. Without a catalog for the
chosen language the English source text is shown.

The language comes from, in this order: :func:`set_language` (the CLI's
``--lang``), the ``TLSTRUNK_LANG`` environment variable (``ja`` or ``en``),
and the locale variables that gettext reads (``LANGUAGE``, ``LC_ALL``,
``LC_MESSAGES``, ``LANG``). ``_`` looks the catalog up on every call, so a
later :func:`set_language` applies to every message built after it. A message
built at import time keeps the language chosen from the environment.
"""

from __future__ import annotations

import gettext
import logging
import os
from contextvars import ContextVar
from pathlib import Path

__all__ = [
    "DOMAIN",
    "LANGUAGES",
    "LOCALE_DIR",
    "_",
    "current_language",
    "ngettext",
    "set_language",
]

logger = logging.getLogger(__name__)

DOMAIN = "tlstrunk"
LOCALE_DIR = Path(__file__).parent / "locale"

#: Languages with a catalog, plus English, the language of the source text.
LANGUAGES = ("en", "ja")

#: Environment variable that picks the language regardless of the locale.
LANGUAGE_VARIABLE = "TLSTRUNK_LANG"


def _normalize(code: str) -> str | None:
    """Return the language part of ``code`` ("ja_JP.UTF-8" gives "ja"), or None."""
    language = code.strip().replace("-", "_").split(".")[0].split("@")[0].split("_")[0]
    language = language.casefold()
    if language in ("c", "posix"):
        return "en"
    return language if language in LANGUAGES else None


def _load(language: str | None) -> gettext.NullTranslations:
    """Return the catalog of ``language``, or gettext's choice from the locale for None."""
    if language == "en":
        return gettext.NullTranslations()
    languages = None if language is None else [language]
    return gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=languages, fallback=True)


def _language_from_environment() -> str | None:
    value = os.environ.get(LANGUAGE_VARIABLE, "").strip()
    if not value:
        return None
    language = _normalize(value)
    if language is None:
        # the message cannot be translated yet: no catalog is loaded at this point
        logger.warning(
            "%s=%s is not a supported language (%s); using the locale instead",
            LANGUAGE_VARIABLE,
            value,
            ", ".join(LANGUAGES),
        )
    return language


_language = _language_from_environment()
_translation = _load(_language)


def set_language(code: str) -> None:
    """Translate every message built from now on into ``code`` ("ja", "en", "ja_JP.UTF-8").

    Raises:
        ValueError: no catalog exists for ``code``.
    """
    global _language, _translation
    language = _normalize(code)
    if language is None:
        raise ValueError(
            _("Language {code!r} is not supported; use one of: {languages}.").format(
                code=code, languages=", ".join(LANGUAGES)
            )
        )
    _language = language
    _translation = _load(language)


def current_language() -> str:
    """Return the code of the language messages are shown in ("en" for the source text)."""
    if _language is not None:
        return _language
    language = _normalize(_translation.info().get("language", ""))
    return language or "en"


#: A translation for the task at hand (a web request in its reader's language),
#: which takes precedence over the process-wide one; ``None`` means none.
context_translation: ContextVar[gettext.NullTranslations | None] = ContextVar(
    "tlstrunk_translation", default=None
)


def _(message: str) -> str:
    """Return ``message`` translated into the current language."""
    return (context_translation.get() or _translation).gettext(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the singular or plural form of a message for ``count``, translated."""
    return (context_translation.get() or _translation).ngettext(singular, plural, count)
