"""The public forms help the person filling them (docs/es/formulario.md): the need first,
the contact rule before anyone breaks it, countries by name in any of the site's
languages, an error summary at the top with a link to each field; and forged posts
(unknown countries, overlong values, reordered or duplicated fields) change nothing."""

from __future__ import annotations

import html
import re

import pytest
import sqlalchemy as sa

from coordinator.forms import (
    CONTACT_ERROR,
    CONTACT_FIELDS,
    CONTACT_RULE,
    COUNTRY_CODES,
    DUPLICATED,
    PROVIDER_FORM,
    REQUEST_FORM,
    Widget,
    country_code,
    summary,
    validate,
)
from coordinator.sealing import Opener
from coordinator.store.schema import sealed
from coordinator.store.sealed import INTAKE_ROUTED_TO, binding_of
from tests.web.forms_data import SCHEMAS, full_form

IDENTITY = ("name", "title", "organization", "website", *CONTACT_FIELDS, "pgp")


async def _post(web, kind: str, pairs, path: str | None = None):
    token = await web.csrf(path or f"/{kind}")
    return await web.client.post(path or f"/{kind}", data=[("csrf_token", token), *pairs])


async def _stored(web, ref: str) -> dict[str, str]:
    async with web.coord.engine.connect() as conn:
        rows = (await conn.execute(sa.select(sealed).where(sealed.c.owner == ref))).all()
    opener = Opener([web.keys])
    return {r.field: opener.open_text(r.blob, binding_of(r)) for r in rows}


async def _count_sealed(web) -> int:
    async with web.coord.engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(sealed))).scalar()


def _reference(page: str) -> str:
    return re.search(r'id="case-ref">([^<]+)<', page).group(1)


def _summary_links(page: str) -> list[tuple[str, str, str]]:
    block = page[
        page.index('id="error-summary"') : page.index("</div>", page.index("error-summary"))
    ]
    # (where the link leads, what it names, what is wrong)
    return [
        (anchor, html.unescape(what), html.unescape(problem))
        for anchor, what, problem in re.findall(
            r'<a href="#([^"]+)"><span class="what">([^<]+)</span> ([^<]+)</a>', block
        )
    ]


def test_the_need_and_its_urgency_come_before_who_is_asking():
    names = REQUEST_FORM.names
    assert names[:2] == ("need", "urgency")
    first_identity = min(names.index(n) for n in IDENTITY)
    for need in ("need", "urgency", "areas", "country", "languages"):
        assert names.index(need) < first_identity, need
    # The provider form likewise: what they offer before who they are.
    names = PROVIDER_FORM.names
    assert names[0] == "skills"
    assert names.index("qualifications") < min(names.index(n) for n in ("name", *CONTACT_FIELDS))


@pytest.mark.parametrize("kind", ["request", "provider"])
async def test_page_shows_fields_in_schema_order_and_the_contact_rule_first(web, kind):
    page = await (await web.client.get(f"/{kind}")).text()
    shown = list(dict.fromkeys(re.findall(r'name="([a-z_]+)"', page.split("<form", 1)[1])))
    assert shown == ["csrf_token", *SCHEMAS[kind].names]
    # Every group appears once (its fields are together), and the rule is stated before
    # the first contact field, tied to each contact field for screen readers.
    headings = re.findall(r'<section class="group" id="(group-\d+)"><h2>([^<]+)</h2>', page)
    assert len({h for _, h in headings}) == len(headings) == 3
    rule = html.escape(CONTACT_RULE)
    assert page.index(rule) < page.index('id="f-phone"')
    note_id = re.search(r'<p class="note" id="([^"]+)">' + re.escape(rule), page).group(1)
    for name in CONTACT_FIELDS:
        tag = re.search(rf'<input id="f-{name}"[^>]*>', page).group(0)
        assert f'aria-describedby="{note_id}' in tag, name
        assert "aria-invalid" not in tag
    assert 'id="error-summary"' not in page


async def test_error_summary_lists_each_problem_once_with_a_link_to_its_field(web):
    pairs = full_form(REQUEST_FORM, name="", need="", languages=[], email="", phone="")
    pairs = [(k, v) for k, v in pairs if k not in ("signal", "matrix")]
    resp = await _post(web, "request", pairs)
    page = await resp.text()
    assert resp.status == 400
    links = _summary_links(page)
    anchors = [a for a, _, _ in links]
    # In the form's order; the contact rule once (to the first contact field), not four times.
    assert anchors == ["f-need", "f-languages-0", "f-phone", "f-name"]
    assert [(w, p) for a, w, p in links if a == "f-phone"] == [("How to reach you", CONTACT_ERROR)]
    assert ("f-need", "What is happening, and what would help?", "This is required.") in links
    for anchor in anchors:
        assert page.count(f'id="{anchor}"') == 1, anchor
    # Above the intro and the form, focused on load, and the title says there is an error.
    assert page.index('id="error-summary"') < page.index("<form")
    assert re.search(r'id="error-summary" tabindex="-1" autofocus', page)
    assert "<title>Error:" in page
    # Every field in error is marked and described, the contact fields included.
    for name in ("need", "name", *CONTACT_FIELDS):
        tag = re.search(rf'<(?:input|textarea) id="f-{name}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in tag, name
        assert f"f-{name}-error" in re.search(r'aria-describedby="([^"]+)"', tag).group(1)
        assert f'id="f-{name}-field"' in page and 'class="field has-error" id="f-' + name in page
    for box in re.findall(r'<input id="f-languages-\d+"[^>]*>', page):
        assert 'aria-invalid="true"' in box
    title = re.search(r'<input id="f-title"[^>]*>', page).group(0)
    assert "aria-invalid" not in title  # a good field is not marked


def test_summary_is_built_from_the_schema_not_the_post():
    errors = dict(validate(REQUEST_FORM, {}).errors)
    items = summary(REQUEST_FORM, errors)
    assert sum(1 for i in items if i.problem == CONTACT_ERROR) == 1
    assert [i.anchor for i in items] == [
        spec.anchor
        for spec in REQUEST_FORM.fields
        if spec.name in errors and (spec.name not in CONTACT_FIELDS or spec.name == "phone")
    ]


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("Mexico", "MX"),
        ("México", "MX"),
        ("mexico", "MX"),
        ("mx", "MX"),
        ("المكسيك", "MX"),
        ("Alemania", "DE"),
        ("Estados Unidos", "US"),
        ("United States", "US"),
        ("USA", "US"),
        ("Reino Unido", "GB"),
        ("Côte d’Ivoire", "CI"),
        ("Cote d'Ivoire", "CI"),
        ("remote", "REMOTE"),
        ("Remoto", "REMOTE"),
    ],
)
def test_a_country_is_known_by_name_in_any_site_language_or_by_code(typed, code):
    assert country_code(typed) == code


@pytest.mark.parametrize(
    "forged", ["Narnia", "ZZ", "EU", "UN", "XA", "QQ", "001", "<script>x</script>", "M X X"]
)
def test_unknown_or_forged_countries_are_not_accepted(forged):
    assert country_code(forged) is None
    result = validate(REQUEST_FORM, dict(full_form(REQUEST_FORM, country=forged)))
    assert "country" in result.errors and "two-letter code" in result.errors["country"]


def test_every_listed_country_has_a_name_in_each_site_language():
    from babel import Locale

    assert len(COUNTRY_CODES) > 240 and "XK" in COUNTRY_CODES
    for tag in ("en", "es", "ar"):
        names = Locale.parse(tag).territories
        for code in COUNTRY_CODES:
            assert country_code(names[code]) == code, (tag, code)


@pytest.mark.parametrize(
    ("path", "typed", "code"),
    [("/request", "Mexico", "MX"), ("/request?lang=es", "México", "MX"), ("/request", "gt", "GT")],
)
async def test_a_country_typed_by_name_is_stored_as_its_code(web, path, typed, code):
    resp = await _post(web, "request", full_form(REQUEST_FORM, country=typed), path=path)
    page = await resp.text()
    assert resp.status == 200, page
    assert (await _stored(web, _reference(page)))["country"] == code


async def test_the_list_offers_names_in_the_readers_language_with_their_code(web):
    page = await (await web.client.get("/request?lang=es")).text()
    assert '<option value="México">MX</option>' in page
    assert '<option value="Alemania">DE</option>' in page
    english = await (await web.client.get("/request?lang=en")).text()
    assert '<option value="Mexico">MX</option>' in english
    options = re.findall(r'<option value="[^"]+">([A-Z]+)</option>', english)
    assert options[:2] == ["US", "REMOTE"] and len(options) == len(COUNTRY_CODES) + 1


async def test_an_unknown_country_says_how_to_find_it_and_keeps_what_was_typed(web):
    resp = await _post(
        web, "request", full_form(REQUEST_FORM, country="Narnia"), "/request?lang=es"
    )
    page = await resp.text()
    assert resp.status == 400
    assert "No encontramos ningún país llamado «Narnia»" in page
    assert "código de dos letras" in page and "elíjalo de la lista" in page
    assert 'value="Narnia"' in page
    error = html.unescape(re.search(r'id="f-country-error">([^<]+)<', page).group(1))
    assert ("f-country", "País", error) in _summary_links(page)
    assert await _count_sealed(web) == 0


async def test_a_known_country_is_shown_again_by_name_after_another_error(web):
    pairs = full_form(REQUEST_FORM, country="mx", name="")
    page = await (await _post(web, "request", pairs, "/request?lang=es")).text()
    assert re.search(r'<input id="f-country"[^>]*value="México"', page)


async def test_forged_values_in_the_country_field_are_escaped_and_nothing_is_stored(web):
    for forged in ('"><script>alert(1)</script>', "U\u202eS\u202cX", "x" * 10_000):
        resp = await _post(web, "request", full_form(REQUEST_FORM, country=forged))
        page = await resp.text()
        assert resp.status == 400
        assert "<script>alert(1)" not in page
    assert await _count_sealed(web) == 0


@pytest.mark.parametrize("kind", ["request", "provider"])
async def test_every_field_refuses_overlong_input_and_keeps_it_whole(web, kind):
    schema = SCHEMAS[kind]
    typed = [s for s in schema.fields if s.widget not in (Widget.CHECKBOXES, Widget.RADIO)]
    longs = {s.name: f"{s.name}-" + "a" * s.max_len for s in typed}
    resp = await _post(web, kind, full_form(schema, **longs))
    page = await resp.text()
    assert resp.status == 400
    for spec in typed:
        error = re.search(rf'id="f-{spec.name}-error">([^<]+)<', page).group(1)
        assert f"under {spec.max_len}" in error, spec.name
        assert longs[spec.name] in page, spec.name  # shown again whole, never cut
    assert await _count_sealed(web) == 0


async def test_fields_posted_in_another_order_are_stored_the_same(web):
    pairs = full_form(REQUEST_FORM)
    first = await _stored(web, _reference(await (await _post(web, "request", pairs)).text()))
    shuffled = list(reversed(pairs))
    second = await _stored(web, _reference(await (await _post(web, "request", shuffled)).text()))
    first.pop(INTAKE_ROUTED_TO), second.pop(INTAKE_ROUTED_TO)
    assert first == second and set(first) == set(REQUEST_FORM.names)


@pytest.mark.parametrize("name", ["urgency", "country", "name", "email", "need"])
async def test_a_one_value_field_sent_twice_with_different_values_is_refused(web, name):
    pairs = full_form(REQUEST_FORM)
    value = {"urgency": "critical", "country": "MX", "email": "other@example.org"}.get(
        name, "something else"
    )
    resp = await _post(web, "request", [*pairs, (name, value)])
    page = await resp.text()
    assert resp.status == 400
    assert re.search(rf'id="f-{name}-error">([^<]+)<', page).group(1) == html.escape(DUPLICATED)
    assert await _count_sealed(web) == 0


async def test_the_same_value_twice_or_a_checkbox_twice_is_harmless(web):
    pairs = full_form(REQUEST_FORM, languages=["es", "es", "en"])
    pairs += [("urgency", "high"), ("country", "US")]
    page = await (await _post(web, "request", pairs)).text()
    stored = await _stored(web, _reference(page))
    assert stored["languages"] == "en, es" and stored["urgency"] == "high"
