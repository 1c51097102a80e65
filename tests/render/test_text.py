"""Neutralizing user text: hidden characters go, HTML is escaped, length is capped."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from partner_bots.render.text import (
    BIDI_CONTROLS,
    ELLIPSIS,
    FSI,
    PDI,
    cap,
    clean,
    has_unsafe_chars,
    markup,
    markup_block,
    plain,
)

HOSTILE = "Ev\u202eil\u2066 <script>alert(1)</script>\x00\x1b[2J\u200b & co\n"


def test_clean_strips_controls_and_bidi():
    out = clean(HOSTILE)
    assert not any(ch in out for ch in BIDI_CONTROLS)
    assert "\x00" not in out and "\x1b" not in out and "\u200b" not in out and "\n" not in out
    assert out.startswith("Evil <script>")


def test_markup_escapes_and_isolates():
    out = markup(HOSTILE)
    assert "<script>" not in out and "&lt;script&gt;" in out and "&amp; co" in out
    assert out.startswith("<bdi>") and out.endswith("</bdi>")
    assert markup('a"b').count("&quot;") == 1


def test_plain_isolates_without_user_isolates():
    out = plain("abc\u2069\u202e")
    assert out == f"{FSI}abc{PDI}"


def test_cap_with_ellipsis():
    assert cap("abcdef", 4) == "abc" + ELLIPSIS
    assert cap("abc", 4) == "abc"
    big = clean("x" * 10_000_000, 120)
    assert len(big) == 120 and big.endswith(ELLIPSIS)


def test_multiline_keeps_lines_and_escapes():
    out = markup_block("line one\r\n<i>two</i>\u2028three")
    assert out == "<bdi>line one<br>&lt;i&gt;two&lt;/i&gt; three</bdi>"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_clean_output_is_always_safe(text, limit):
    out = clean(text, limit)
    assert len(out) <= limit
    assert not has_unsafe_chars(out)
    m = markup(text, limit)
    assert "<" not in m[5:-6] and ">" not in m[5:-6]
