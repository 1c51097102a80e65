"""Engagement introduction and purge notice."""

from __future__ import annotations

import json

from partner_bots.render import ENGAGEMENT_KEY, EngagementView, introduction_content, purge_content


def test_introduction_mentions_the_provider_and_carries_the_block():
    view = EngagementView(
        id="E-4",
        request="R-7",
        provider_id="@maria:example.org",
        provider_name="Maria <b>",
        room_id="!eng:example.org",
        partner_name="Partner A",
        skills=("devices",),
    )
    content = introduction_content(view)
    assert content["msgtype"] == "m.notice"
    assert content["m.mentions"] == {"user_ids": ["@maria:example.org"]}
    assert content[ENGAGEMENT_KEY] == {
        "id": "E-4",
        "request": "R-7",
        "provider": "@maria:example.org",
        "room": "!eng:example.org",
    }
    html = content["formatted_body"]
    assert 'href="https://matrix.to/#/@maria:example.org"' in html
    assert "Maria &lt;b&gt;" in html and "<b>" not in html
    assert "!dsx close E-4" in content["body"] and "devices" in content["body"]


def test_purge_notice_names_only_ids():
    content = purge_content("E-4", "R-7", archived=False)
    assert "E-4" in content["body"] and "R-7" in content["body"]
    assert "No archive" in content["body"]
    assert "permission" in purge_content("E-4", "R-7", archived=True)["body"]
    assert content["m.mentions"] == {}
    assert set(json.loads(json.dumps(content))) == {
        "msgtype",
        "body",
        "format",
        "formatted_body",
        "m.mentions",
    }
