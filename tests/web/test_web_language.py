"""Each request in its own language: the cookie, then Accept-Language, then the server's."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tlstrunk import i18n
from tlstrunk.web.language import choose_language, translation

JA_TRUNKS = "SIP トランク"


@pytest.fixture
def english_server() -> object:
    """Keep the server's own language English whatever the test environment says."""
    before = i18n.current_language()
    i18n.set_language("en")
    yield None
    i18n.set_language(before)


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        ("ja", "en", "ja"),
        ("en", "ja", "en"),
        (None, "ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        (None, "fr, en;q=0.5, ja;q=0.4", "en"),
        (None, "en;q=0.1, ja", "ja"),
        ("xx", "ja;q=0", "en"),
        (None, None, "en"),
    ],
)
def test_choose_language(
    english_server: object, cookie: str | None, header: str | None, expected: str
) -> None:
    assert choose_language(cookie, header) == expected


def test_translation_loaded_once() -> None:
    assert translation("ja") is translation("ja")
    assert translation("ja").gettext("SIP Trunks") == JA_TRUNKS
    with pytest.raises(ValueError, match="Language 'xx' is not supported"):
        translation("xx")


def test_page_in_japanese_with_cookie(english_server: object, admin: TestClient) -> None:
    admin.cookies.set("lang", "ja")
    page = admin.get("/config/trunks").text
    assert '<html lang="ja">' in page
    assert JA_TRUNKS in page
    assert "SIP Trunks" not in page


def test_page_in_english_without_cookie(english_server: object, admin: TestClient) -> None:
    page = admin.get("/config/trunks").text
    assert '<html lang="en">' in page
    assert "SIP Trunks" in page
    assert JA_TRUNKS not in page


def test_form_labels_follow_language(english_server: object, admin: TestClient) -> None:
    english = admin.get("/config/security-profiles/new").text
    japanese = admin.get("/config/security-profiles/new", headers={"Accept-Language": "ja"}).text
    assert "X.509 Subject Name" in english
    assert translation("ja").gettext("Device Security Mode") in japanese
    assert "Device Security Mode" not in japanese


def test_language_switch_sets_cookie(english_server: object, admin: TestClient) -> None:
    answer = admin.get("/language/ja?next=/config/trunks", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/config/trunks"
    assert "lang=ja" in answer.headers["set-cookie"]
    assert JA_TRUNKS in admin.get("/config/trunks").text
    outside = admin.get("/language/en?next=https://elsewhere.example/", follow_redirects=False)
    assert outside.headers["location"] == "/"


def test_api_error_in_japanese(english_server: object, client: TestClient) -> None:
    client.headers["Authorization"] = "Bearer not-a-token"
    japanese = client.get("/api/v1/trunks", headers={"Accept-Language": "ja"})
    english = client.get("/api/v1/trunks")
    assert japanese.status_code == english.status_code == 401
    assert japanese.json()["error"]["message"] == translation("ja").gettext(
        "The bearer token is unknown or was deleted; create a new one."
    )
    assert english.json()["error"]["message"] == (
        "The bearer token is unknown or was deleted; create a new one."
    )


def test_api_input_error_in_japanese(english_server: object, api: TestClient) -> None:
    body = {"name": "Internal", "colour": "blue"}
    answer = api.post("/api/v1/partitions", json=body, headers={"Accept-Language": "ja"})
    assert answer.status_code == 422
    template = "Unknown field {field!r}; the fields are: {known}."
    assert translation("ja").gettext(template) != template
    expected = translation("ja").gettext(template).format(field="colour", known="name, description")
    assert answer.json()["error"] == {"code": "invalid_input", "message": expected}


def test_languages_do_not_leak_between_requests(
    english_server: object, admin: TestClient, node_dir: Path
) -> None:
    def fetch(language: str) -> str:
        return admin.get("/config/trunks", headers={"Accept-Language": language}).text

    with ThreadPoolExecutor(max_workers=4) as pool:
        pages = list(pool.map(fetch, ["ja", "en"] * 6))
    for language, page in zip(["ja", "en"] * 6, pages, strict=True):
        assert (JA_TRUNKS in page) == (language == "ja")
    assert i18n.current_language() == "en"


def _has_japanese(text: str) -> bool:
    return any("\u3040" <= char <= "\u30ff" or "\u4e00" <= char <= "\u9fff" for char in text)


def test_writer_error_follows_request_language(english_server: object, api: TestClient) -> None:
    body = {"name": "Internal"}
    assert api.post("/api/v1/partitions", json=body).status_code in (200, 201)
    japanese = api.post("/api/v1/partitions", json=body, headers={"Accept-Language": "ja"})
    english = api.post("/api/v1/partitions", json=body)
    assert japanese.status_code == english.status_code
    assert japanese.status_code >= 400
    assert _has_japanese(japanese.json()["error"]["message"])
    assert not _has_japanese(english.json()["error"]["message"])
