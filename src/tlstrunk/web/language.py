"""The language of each web request, and translation that follows it.

:mod:`tlstrunk.i18n` keeps one language for the whole process, which suits the
command line. The web server serves users who read different languages at
the same time, so it must not switch that process-wide language. Instead,
:class:`LanguageMiddleware` chooses a language per request (the ``lang``
cookie, then the Accept-Language header, then the server's language) and
stores that language's catalog in a context variable. :func:`_` and
:func:`ngettext` of this module translate with that catalog, and fall back
to :mod:`tlstrunk.i18n` outside a request.

Catalogs are loaded once per language and shared; gettext translation objects
are read-only after loading, so threads may share them.

Texts built at import time (page titles, form labels) are marked with
:func:`N_`, which only marks them for extraction; the pages translate them
when they render.
"""

from __future__ import annotations

import gettext
import logging
from contextvars import ContextVar
from functools import cache
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from tlstrunk import i18n

__all__ = [
    "LANGUAGE_COOKIE",
    "LANGUAGE_NAMES",
    "N_",
    "LanguageMiddleware",
    "_",
    "choose_language",
    "ngettext",
    "request_language",
    "translation",
]

logger = logging.getLogger(__name__)

#: Cookie that the language switch in the page header sets.
LANGUAGE_COOKIE = "lang"

#: Name of each supported language, written in that language, for the switch.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "ja": "日本語"}

# Messages from the config and PKI layers follow the request's language too.
_current = i18n.context_translation
_current_code: ContextVar[str | None] = ContextVar("tlstrunk_web_language", default=None)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it; pages translate it later."""
    return message


@cache
def translation(code: str) -> gettext.NullTranslations:
    """Return the catalog of language ``code`` ("en" or "ja"), loaded once.

    Raises:
        ValueError: ``code`` is not a supported language.
    """
    if code not in i18n.LANGUAGES:
        raise ValueError(
            i18n._("Language {code!r} is not supported; use one of: {languages}.").format(
                code=code, languages=", ".join(i18n.LANGUAGES)
            )
        )
    if code == "en":
        return gettext.NullTranslations()
    return gettext.translation(
        i18n.DOMAIN, localedir=i18n.LOCALE_DIR, languages=[code], fallback=True
    )


def _supported(code: str) -> str | None:
    language = code.strip().replace("_", "-").split("-")[0].casefold()
    return language if language in i18n.LANGUAGES else None


def _accept_language(header: str) -> str | None:
    """Return the supported language the Accept-Language ``header`` prefers most."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _sep, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _eq, value = param.partition("=")
            if name.strip() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = _supported(tag)
        if language is not None and weight > 0:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else None


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """Return the language of a request: the cookie's, the header's, or the server's."""
    if cookie:
        language = _supported(cookie)
        if language is not None:
            return language
    if accept_language:
        language = _accept_language(accept_language)
        if language is not None:
            return language
    return i18n.current_language()


def request_language() -> str:
    """Return the language of the request being handled, or the server's outside one."""
    return _current_code.get() or i18n.current_language()


def _(message: str) -> str:
    """Return ``message`` in the current request's language."""
    catalog = _current.get()
    return catalog.gettext(message) if catalog is not None else i18n._(message)


def ngettext(singular: str, plural: str, count: int) -> str:
    """Return the form of a message for ``count`` in the current request's language."""
    catalog = _current.get()
    if catalog is None:
        return i18n.ngettext(singular, plural, count)
    return catalog.ngettext(singular, plural, count)


def _scope_headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        headers[name.decode("latin-1").casefold()] = value.decode("latin-1")
    return headers


def _cookie(header: str, name: str) -> str | None:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:  # a malformed cookie header only loses the choice
        return None
    morsel = cookies.get(name)
    return morsel.value if morsel is not None else None


class LanguageMiddleware:
    """ASGI middleware that sets the request's language for :func:`_` and the templates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _scope_headers(scope)
        code = choose_language(
            _cookie(headers.get("cookie", ""), LANGUAGE_COOKIE), headers.get("accept-language")
        )
        scope.setdefault("state", {})["language"] = code
        catalog_token = _current.set(translation(code))
        code_token = _current_code.set(code)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(catalog_token)
            _current_code.reset(code_token)
