"""The message catalogs: Spanish complete, placeholders the same in every language, the
catalog template current with the source, and the form's language values real BCP 47."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from coordinator import i18n
from coordinator.forms import LANGUAGE_TAGS, LANGUAGES, PROVIDER_FORM, REQUEST_FORM
from coordinator.routing.languages import standard
from coordinator.usecases.validate import languages as validate_languages

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "coordinator" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|%[sd]")
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "N_plural": (1, 2)}


def _catalog(lang: str):
    with (LOCALE / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def _key(message) -> str:
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _ids(message) -> tuple[str, ...]:
    return message.id if isinstance(message.id, tuple) else (message.id,)


def _strings(message) -> tuple[str, ...]:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def _source_msgids() -> set[str]:
    """What the public pages ask to translate now, extracted the way ``make i18n`` does."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    found = extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    )
    return {m if isinstance(m, str) else m[0] for _, _, m, *_ in found}


def test_catalog_template_and_spanish_cover_every_message_in_the_source():
    source = _source_msgids()
    assert len(source) > 90  # the forms, notices and pages all extracted
    assert "Request assistance" in source and "This is required." in source
    with (LOCALE / "messages.pot").open("rb") as fh:
        template = {_key(m) for m in read_po(fh) if m.id}
    assert source - template == set(), "run `make i18n`: messages.pot is behind the source"
    spanish = {_key(m) for m in _catalog("es") if m.id}
    assert source - spanish == set(), "messages missing from the Spanish catalog"


def test_every_spanish_message_is_translated_in_every_plural_form():
    catalog = _catalog("es")
    untranslated = [
        _key(m) for m in catalog if m.id and (m.fuzzy or not all(s.strip() for s in _strings(m)))
    ]
    assert untranslated == []
    plural = [m for m in catalog if m.id and m.pluralizable]
    assert plural and all(len(m.string) == catalog.num_plurals for m in plural)


@pytest.mark.parametrize("lang", ["es", "ar"])
def test_placeholders_are_the_same_in_every_translation(lang):
    catalog = _catalog(lang)
    checked = 0
    for m in catalog:
        if not m.id or not any(_strings(m)):
            continue
        wanted = {p for i in _ids(m) for p in PLACEHOLDER.findall(i)}
        forms = [set(PLACEHOLDER.findall(s)) for s in _strings(m) if s]
        if m.pluralizable:
            # A form for one or two may leave the number out (Arabic does); no form may
            # invent a value, and together the forms use every value the English uses.
            assert all(f <= wanted for f in forms), _key(m)
            assert set().union(*forms) == wanted, _key(m)
        else:
            assert forms[0] == wanted, _key(m)
        # Markup carried in a message keeps its elements (and the case reference its id).
        for tag in ("<bdi>", "<strong", 'id="case-ref"', 'id="source-link"'):
            assert all((tag in s) == (tag in _ids(m)[0]) for s in _strings(m) if s), _key(m)
        checked += 1
    assert checked >= (100 if lang == "es" else 20)


def test_arabic_is_partial_and_falls_back_to_english_per_message():
    catalog = _catalog("ar")
    done = [m for m in catalog if m.id and all(_strings(m))]
    missing = [m for m in catalog if m.id and not any(_strings(m))]
    assert done and missing  # partial on purpose: the fallback is exercised
    token = i18n.CURRENT.set(i18n.Lang("ar", public=True))
    try:
        assert i18n.gettext("Request assistance") == "طلب المساعدة"
        # English, never blank, isolated as left-to-right text inside the Arabic page.
        assert i18n.gettext(_key(missing[0])) == f"\u2066{_key(missing[0])}\u2069"
        assert (
            i18n.ngettext(
                "One thing needs your attention. Nothing you typed was lost.",
                "%(count)s things need your attention. Nothing you typed was lost.",
                2,
            ).count("أمران")
            == 1
        )
    finally:
        i18n.CURRENT.reset(token)


def test_language_values_are_canonical_bcp47_tags_the_core_accepts():
    values = [c.value for c in LANGUAGES]
    assert values[:2] == ["en", "es"] and "mis" in values
    for needed in ("zh-Hans", "zh-Hant", "fil", "vi", "ar", "ht", "fa", "pa", "bn", "ur", "hi"):
        assert needed in values
    assert all(standard(v) == v for v in values)
    assert validate_languages("languages", values) == frozenset(values)
    for schema in (REQUEST_FORM, PROVIDER_FORM):
        assert schema.field("languages").choices == LANGUAGES


def test_language_names_are_in_the_readers_language():
    assert i18n.language_name("zh-Hans", "es") == "chino (simplificado)"
    assert i18n.language_name("zh-Hant", "en") == "Chinese (Traditional)"
    assert i18n.language_name("fil", "es") == "tagalo"
    assert i18n.language_name("ht", "en") == "Haitian Creole"
    assert i18n.language_name("es", "ar") == "الإسبانية"
    assert all(i18n.language_name(t, "es") != t for t in LANGUAGE_TAGS)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("es-MX,es;q=0.9,en;q=0.8", "es"),
        ("en;q=0.3, es", "es"),
        ("fr-CA, ar;q=0.5, en;q=0.1", "ar"),
        ("de, *;q=0.5", "en"),
        ("es;q=0, en", "en"),
        ("", "en"),
        ("x" * 200, "en"),
        ("es;q=abc, ar", "ar"),
    ],
)
def test_accept_language_negotiation(header, expected):
    assert i18n.negotiate({}, {}, header).tag == expected


def test_a_choice_beats_the_header_and_a_bad_choice_is_ignored():
    assert i18n.negotiate({"lang": "ar"}, {"dsx_lang": "es"}, "en").tag == "ar"
    assert i18n.negotiate({}, {"dsx_lang": "es"}, "ar").tag == "es"
    bad = i18n.negotiate({"lang": "<script>"}, {"dsx_lang": "klingon"}, "ar")
    assert bad.tag == "ar" and not bad.explicit
