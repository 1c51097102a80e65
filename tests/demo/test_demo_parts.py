"""The demo's pieces that need no homeserver: the shipped data slice and the config writer."""

from __future__ import annotations

import tomllib
from importlib import resources

from dsx.demo.network import Level, load_slice, member_id
from dsx.demo.stack import to_toml
from dsx.demo.transcript import Milestone


def test_slice_is_shipped_with_its_citation():
    data = resources.files("dsx.demo").joinpath("data")
    citation = data.joinpath("CITATION.txt").read_text("utf-8")
    assert "KONECT" in citation and "CC BY-SA 2.0 DE" in citation and "Massa" in citation
    trust = load_slice()
    assert len(trust.members) == 36
    assert len(trust.certifications) == 169
    assert trust.members[0] == "gc"
    assert all(c.voucher != c.certified for c in trust.certifications)
    assert {c.level for c in trust.certifications} == {Level.MASTER, Level.JOURNEYER}


def test_member_ids_are_valid_matrix_ids():
    from coordinator.usecases import validate

    for name in load_slice().members:
        validate.mxid("m", member_id(name, "localhost:8448"))


def test_toml_writer_round_trips():
    doc = {
        "data_dir": "/tmp/x",
        "matrix": {"user_id": "@dsx:localhost:1", "password": 'a"b\\c'},
        "web": {"port": 8080},
        "partners": [{"handle": "a", "rooms": ["!r:s"], "members": []}],
    }
    assert tomllib.loads(to_toml(doc)) == doc


def test_milestones_are_numbered_in_order():
    assert [m.number for m in Milestone] == list(range(1, len(Milestone) + 1))
