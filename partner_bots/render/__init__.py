"""Matrix message content for the bot: replies, notifications (one renderer per kind,
``render.notifications``), proposals, relations.

Every user-supplied string passes through ``render.text`` before it reaches a body.
"""

from partner_bots.render.notice import mentions, notice, pill
from partner_bots.render.proposal import (
    PROPOSAL_KEY,
    Person,
    ProposalView,
    ProviderView,
    RequestView,
    proposal_content,
    vouching_proposal_content,
)
from partner_bots.render.relations import (
    APPROVE_KEY,
    DECLINE_KEY,
    Vote,
    as_reply,
    edit,
    in_thread,
    reaction,
    reply_to_command,
    vote_of,
)
from partner_bots.render.reply import REPLY_KEY, reply_content, reply_event

__all__ = [
    "APPROVE_KEY",
    "DECLINE_KEY",
    "PROPOSAL_KEY",
    "REPLY_KEY",
    "Person",
    "ProposalView",
    "ProviderView",
    "RequestView",
    "Vote",
    "as_reply",
    "edit",
    "in_thread",
    "mentions",
    "notice",
    "pill",
    "proposal_content",
    "reaction",
    "reply_content",
    "reply_event",
    "reply_to_command",
    "vote_of",
    "vouching_proposal_content",
]
