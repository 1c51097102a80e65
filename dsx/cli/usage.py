"""What each ``dsx`` command is for, and an example, in its ``--help`` (docs/operator.md,
"When something is wrong"). Kept apart from the commands' modules so each module only
declares its arguments; ``build_parser`` applies these to every parser, nested ones too.
"""

from __future__ import annotations

import argparse

CONFIG = "--config /etc/dsx/dsx.toml"

# command (as typed after ``dsx``) -> (what it is for, examples)
USAGE: dict[str, tuple[str, tuple[str, ...]]] = {
    "up": (
        "Run the whole system on embedded defaults: two local homeservers, the coordinator, "
        "the dashboard and a scripted case from request to purge. For trying it, never "
        "for production.",
        ("dsx up", "dsx up --exit-after-scenario"),
    ),
    "run": (
        "Run the coordinator against the homeserver and database of the configuration, "
        "until SIGTERM or Ctrl-C (the systemd unit and the image run this).",
        (f"dsx run {CONFIG}",),
    ),
    "init": (
        "Write a new configuration file and generate its keys (pickle key, sealing key "
        "pair, audit key), all or nothing; then prints every next step.",
        (
            "dsx init --config /etc/dsx/dsx.toml --data-dir /var/lib/dsx --owner dsx "
            "--homeserver https://matrix.example.org --user @dsx:example.org "
            "--staff @you:example.org",
        ),
    ),
    "doctor": (
        "Check a deployment (configuration, keys, database, outbox, homeserver, each bot "
        "account) and print what to fix; exits non-zero when something fails.",
        (f"dsx doctor {CONFIG}",),
    ),
    "migrate": (
        "Bring the database schema up to date (safe to repeat; run before `dsx run`).",
        (f"dsx migrate {CONFIG}",),
    ),
    "trust": (
        "Trust-graph tools on a graph file: vet a member, vouching paths, blast radius, "
        "every accepted member (docs/trust.md).",
        ("dsx trust vet --graph graph.json --seeds alpha,beta @p1:example.org",),
    ),
    "trust vet": (
        "Decide whether a member may be matched under the vetting policy, and why.",
        ("dsx trust vet --graph graph.json --seeds alpha,beta @p1:example.org",),
    ),
    "trust paths": (
        "Shortest and vertex-disjoint vouching paths between two members.",
        ("dsx trust paths --graph graph.json --k 2 alpha @p1:example.org",),
    ),
    "trust impact": (
        "Blast radius: the accepted and waiting members who depend on MEMBER.",
        ("dsx trust impact --graph graph.json --seeds alpha,beta alpha",),
    ),
    "trust accepted": (
        "Every member the vetting policy accepts.",
        ("dsx trust accepted --graph graph.json --seeds alpha,beta",),
    ),
    "audit": (
        "Verify the keyed audit log link by link (optionally against an anchor the bot "
        "posted to the staff room), or make the audit key for an older database.",
        (f"dsx audit verify {CONFIG}", f"dsx audit verify --anchor HASH:COUNT {CONFIG}"),
    ),
    "outbox": (
        "Messages that have not reached their room: list them, or send dead ones again.",
        (f"dsx outbox list --dead {CONFIG}", f"dsx outbox retry --dead {CONFIG}"),
    ),
    "outbox list": (
        "List messages still waiting or given up on (ids, rooms, error codes; no text).",
        (f"dsx outbox list {CONFIG}", f"dsx outbox list --dead {CONFIG}"),
    ),
    "outbox retry": (
        "Queue dead messages again, by id or all of them, once the cause is fixed.",
        (f"dsx outbox retry --dead {CONFIG}", f"dsx outbox retry m-1234 {CONFIG}"),
    ),
    "tokens": (
        "Staff API tokens: list them (never their secret) or revoke them.",
        (f"dsx tokens list {CONFIG}",),
    ),
    "tokens list": (
        "Every live API token: id, owner, label, last use.",
        (f"dsx tokens list --staff @you:example.org {CONFIG}",),
    ),
    "tokens revoke": (
        "Revoke API tokens at once (ids from `dsx tokens list`).",
        (f"dsx tokens revoke t-1234 {CONFIG}",),
    ),
    "config": (
        "Validate a configuration file as a whole (cross-field checks, secrets, key "
        "files) and print the settings it results in, secrets hidden.",
        (f"dsx config check {CONFIG}",),
    ),
}


class _Formatter(argparse.HelpFormatter):
    """Wraps the description; keeps the examples' lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def apply(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """Give every (nested) sub-command its description and examples."""
    for name, child in _subparsers(parser).items():
        command = f"{prefix}{name}"
        if command in USAGE:
            description, examples = USAGE[command]
            child.description = description
            child.epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
            child.formatter_class = _Formatter
        apply(child, f"{command} ")
