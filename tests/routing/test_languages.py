"""Language tags are BCP 47 and match as people mean them (coordinator/routing/languages.py)."""

from __future__ import annotations

import pytest

from coordinator.domain import InvalidInput
from coordinator.routing import languages
from coordinator.usecases import validate


@pytest.mark.parametrize(
    ("wanted", "spoken"),
    [
        ("es-MX", "es"),
        ("es", "es-MX"),
        ("pt-BR", "pt"),
        ("pt-BR", "pt-PT"),  # one language, two spellings: a reader manages
        ("zh-TW", "zh-Hant"),  # Taiwan writes traditional characters
        ("zh", "zh-Hans"),
        ("he", "iw"),  # the deprecated code
        ("fil", "tl"),
        ("EN-us", "en"),
        ("sr-Latn", "sr-Latn-RS"),
    ],
)
def test_tags_that_name_the_same_written_language_match(wanted, spoken):
    assert languages.shared([wanted], [spoken]) == [wanted]


@pytest.mark.parametrize(
    ("wanted", "spoken"),
    [
        ("zh-Hant", "zh-Hans"),  # traditional is not simplified
        ("zh-TW", "zh"),
        ("sr-Latn", "sr"),  # Serbian defaults to Cyrillic
        ("es", "pt"),
        ("ur", "hi"),  # close when spoken, not when written
        ("ar", "fa"),
    ],
)
def test_different_languages_or_scripts_do_not_match(wanted, spoken):
    assert languages.shared([wanted], [spoken]) == []


def test_validation_stores_the_canonical_spelling():
    assert validate.languages("langs", ["ES-mx", "zh-hant", " en "]) == {"es-MX", "zh-Hant", "en"}


@pytest.mark.parametrize("bad", ["xx-yy", "english", "e", "es_MX!", "a" * 50])
def test_unknown_language_codes_are_refused_with_an_example(bad):
    with pytest.raises(InvalidInput) as caught:
        validate.languages("langs", [bad])
    assert "for example en, es, es-MX" in caught.value.message


def test_a_stored_legacy_value_matches_only_itself():
    assert languages.match_key("klingon") == "klingon"
    assert languages.shared(["klingon"], ["klingon", "en"]) == ["klingon"]
