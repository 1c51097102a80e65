"""State machines allow only their legal transitions."""

from __future__ import annotations

import pytest

from coordinator.domain import (
    DomainError,
    EngagementState,
    IllegalTransition,
    MembershipStatus,
    ProposalState,
    RequestState,
    Review,
    advance,
)
from coordinator.domain.states import (
    ENGAGEMENT_TRANSITIONS,
    MEMBERSHIP_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    REQUEST_TRANSITIONS,
)

MACHINES = [
    (RequestState, REQUEST_TRANSITIONS),
    (ProposalState, PROPOSAL_TRANSITIONS),
    (EngagementState, ENGAGEMENT_TRANSITIONS),
    (MembershipStatus, MEMBERSHIP_TRANSITIONS),
]


@pytest.mark.parametrize(("enum", "table"), MACHINES)
def test_every_pair_is_legal_or_a_typed_error(enum, table):
    assert set(table) == set(enum)
    for current in enum:
        for target in enum:
            if target in table[current]:
                assert advance(current, target) is target
            else:
                with pytest.raises(IllegalTransition) as info:
                    advance(current, target)
                assert info.value.code == "illegal_transition"
                assert current.value in info.value.message


def test_terminal_states():
    for state in (RequestState.CLOSED, RequestState.REFUSED, RequestState.REFERRED):
        assert not REQUEST_TRANSITIONS[state]
    assert not MEMBERSHIP_TRANSITIONS[MembershipStatus.REMOVED]
    with pytest.raises(DomainError):
        advance(ProposalState.DECLINED, ProposalState.APPROVED)


def test_mixed_machines_are_a_bug():
    with pytest.raises(TypeError):
        advance(RequestState.OPEN, ProposalState.PENDING)


def test_review_threshold():
    assert Review("e", 3, 4, 5).satisfactory
    assert not Review("e", 2, 4, 5).satisfactory
    assert not Review("e", 5, 5, 5, code_of_conduct_violation=True).satisfactory
