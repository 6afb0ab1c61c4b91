"""Message catalogs: coverage of the source, placeholders, compiled files and language choice."""

from __future__ import annotations

import gettext
import os
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tlstrunk import i18n

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "tlstrunk"
JA_PO = SOURCE / "locale" / "ja" / "LC_MESSAGES" / "tlstrunk.po"
JA_MO = JA_PO.with_suffix(".mo")

MISSING_DATABASE_EN = "No configuration database at"
MISSING_DATABASE_JA = "構成データベースがありません"


def read_catalog() -> Catalog:
    with JA_PO.open("rb") as stream:
        return read_po(stream, locale="ja")


def extracted_ids() -> set[str]:
    """Return every message id in the source, extracted as scripts/update_catalog.py does."""
    found = extract_from_dir(
        str(SOURCE),
        method_map=[("**.py", "python")],
        keywords={"_": None, "ngettext": (1, 2)},
        comment_tags=(),
    )
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in found:
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def translated_pairs() -> Iterator[tuple[str, str]]:
    """Yield (source, translation) for every translated form in the Japanese catalog."""
    for message in read_catalog():
        if not message.id or not message.string:
            continue
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        for target in targets:
            # Japanese has one plural form; it must carry the plural source's placeholders
            yield sources[-1], target


def placeholders(text: str) -> set[str]:
    fields: set[str] = set()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields.add(f"{{{name}{'!' + conversion if conversion else ''}:{spec}}}")
    return fields


def test_catalog_translates_every_source_message() -> None:
    translated = {
        (m.id[0] if isinstance(m.id, tuple) else m.id)
        for m in read_catalog()
        if m.id and m.string and all(m.string) and not m.fuzzy
    }

    untranslated = sorted(extracted_ids() - translated)

    assert untranslated == [], "untranslated message ids:\n" + "\n".join(untranslated)


def test_translations_keep_placeholders() -> None:
    wrong = [
        f"{source!r}: {sorted(placeholders(source))} != {sorted(placeholders(target))}"
        for source, target in translated_pairs()
        if placeholders(source) != placeholders(target)
    ]

    assert wrong == [], "\n".join(wrong)


def test_translations_keep_rich_markup() -> None:
    tags = ("[red]", "[/red]")
    wrong = [
        source
        for source, target in translated_pairs()
        if any(source.count(tag) != target.count(tag) for tag in tags)
    ]

    assert wrong == []


def test_compiled_catalog_matches_po() -> None:
    with JA_MO.open("rb") as stream:
        compiled = gettext.GNUTranslations(stream)
    stale = [
        m.id
        for m in read_catalog()
        if isinstance(m.id, str) and m.id and m.string and compiled.gettext(m.id) != m.string
    ]

    assert stale == [], "run scripts/update_catalog.py to recompile: " + repr(stale[:5])


@pytest.fixture
def restore_language() -> Iterator[None]:
    yield
    i18n.set_language("en")


@pytest.mark.usefixtures("restore_language")
def test_set_language_switches_messages() -> None:
    i18n.set_language("ja_JP.UTF-8")

    assert i18n.current_language() == "ja"
    assert i18n._("Error") == "エラー"

    i18n.set_language("en")

    assert i18n._("Error") == "Error"


@pytest.mark.usefixtures("restore_language")
def test_set_language_rejects_unknown_code() -> None:
    message = "Language 'xx' is not supported; use one of: en, ja."
    with pytest.raises(ValueError, match=re.escape(message)):
        i18n.set_language("xx")


def run_cli(environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in _LANGUAGE_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "tlstrunk", "trunk", "list", "--node-dir", "/nonexistent"],
        env={**clean, "COLUMNS": "400", **environment},
        capture_output=True,
        text=True,
        check=False,
    )


_LANGUAGE_VARIABLES = ("TLSTRUNK_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def test_cli_error_in_japanese_with_tlstrunk_lang() -> None:
    result = run_cli({"TLSTRUNK_LANG": "ja"})

    assert result.returncode == 1
    assert MISSING_DATABASE_JA in result.stderr
    assert "エラー" in result.stderr


def test_cli_error_in_english_without_language() -> None:
    result = run_cli({})

    assert result.returncode == 1
    assert MISSING_DATABASE_EN in result.stderr


def test_cli_follows_locale_variables() -> None:
    result = run_cli({"LANG": "ja_JP.UTF-8"})

    assert MISSING_DATABASE_JA in result.stderr


def test_tlstrunk_lang_overrides_locale() -> None:
    result = run_cli({"LANG": "ja_JP.UTF-8", "TLSTRUNK_LANG": "en"})

    assert MISSING_DATABASE_EN in result.stderr


def test_unknown_tlstrunk_lang_falls_back_to_locale() -> None:
    result = run_cli({"TLSTRUNK_LANG": "klingon", "LANG": "ja_JP.UTF-8"})

    assert MISSING_DATABASE_JA in result.stderr
