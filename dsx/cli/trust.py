"""`dsx trust`: trust graph tools (vet, paths, impact, accepted), JSON on stdout.

Bad input (unknown member, malformed file, unknown format, a file over ``--max-size``)
prints one line on stderr and exits 1; usage errors exit 2 as argparse does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trust_graph import Policy, TrustGraph, UnknownMember
from trust_graph.formats import DEFAULT_MAX_BYTES, FORMATS, FormatError, load

MIB = 1024 * 1024


class InputError(Exception):
    """Bad input named in one line."""


def register(sub) -> None:
    p = sub.add_parser("trust", help="trust graph tools (vet, paths, impact, accepted)")
    tsub = p.add_subparsers(dest="trust_command", metavar="SUBCOMMAND", required=True)

    vet = tsub.add_parser("vet", help="decide whether a member may be matched, and why")
    vet.add_argument("member")
    _graph_args(vet, seeds=True)
    vet.add_argument("--from", dest="asking", metavar="PARTNER", help="asking partner")
    vet.set_defaults(func=_guard(_vet))

    paths = tsub.add_parser("paths", help="shortest and vertex-disjoint vouching paths")
    paths.add_argument("source", nargs="?", metavar="FROM")
    paths.add_argument("target", nargs="?", metavar="TO")
    _graph_args(paths, seeds=False)
    paths.add_argument("--k", type=_positive, default=2, help="disjoint paths wanted (2)")
    paths.add_argument("--batch", type=Path, metavar="PAIRS_FILE", help="one 'FROM TO' a line")
    paths.set_defaults(func=_guard(_paths))

    impact = tsub.add_parser(
        "impact", help="blast radius: accepted and waiting members who depend on MEMBER"
    )
    impact.add_argument("member")
    _graph_args(impact, seeds=True)
    impact.set_defaults(func=_guard(_impact))

    acc = tsub.add_parser("accepted", help="every member the policy accepts")
    _graph_args(acc, seeds=True)
    acc.set_defaults(func=_guard(_accepted))


def _graph_args(p: argparse.ArgumentParser, *, seeds: bool) -> None:
    p.add_argument("--graph", required=True, type=Path, metavar="FILE", help="graph file")
    p.add_argument("--format", help=f"one of {', '.join(FORMATS)} (detected)")
    p.add_argument(
        "--max-size",
        type=_positive,
        default=DEFAULT_MAX_BYTES // MIB,
        metavar="MIB",
        help=f"largest graph to read, after decompression ({DEFAULT_MAX_BYTES // MIB} MiB)",
    )
    if seeds:
        p.add_argument("--seeds", required=True, help="seed partners, comma separated")
        default = Policy()
        p.add_argument(
            "--expected-members",
            type=_positive,
            default=default.expected_members,
            help=f"membership planned for ({default.expected_members})",
        )
        p.add_argument(
            "--fakes-per-member",
            type=_positive,
            default=default.fakes_per_member,
            help=f"fakes one compromised member may bring in ({default.fakes_per_member})",
        )
        p.add_argument(
            "--colluders",
            type=_positive,
            default=default.colluders,
            help=f"compromised members acting together the bound holds for ({default.colluders})",
        )
        p.add_argument(
            "--capacities",
            default="",
            help="experts: Advogato capacity per distance from the seeds, comma separated "
            "(replaces the rule above)",
        )
        p.add_argument(
            "--max-depth",
            type=int,
            default=default.max_depth,
            help="experts: depth limit of --capacities",
        )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _guard(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except (InputError, FormatError, UnknownMember, ValueError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"dsx trust {args.trust_command}: error: {message}", file=sys.stderr)
            return 1

    return guarded


def _emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def _load(args: argparse.Namespace) -> TrustGraph:
    if not args.graph.is_file():
        raise InputError(f"graph file not found: {args.graph}")
    return load(args.graph, args.format, max_bytes=args.max_size * MIB)


def _policy(args: argparse.Namespace) -> Policy:
    try:
        caps = tuple(int(c) for c in args.capacities.split(",") if c.strip())
    except ValueError:
        raise InputError(f"--capacities must be integers: {args.capacities!r}") from None
    return Policy(
        capacities=caps,
        max_depth=args.max_depth,
        expected_members=args.expected_members,
        fakes_per_member=args.fakes_per_member,
        colluders=args.colluders,
    )


def _seeds(args: argparse.Namespace, tg: TrustGraph) -> list[str]:
    seeds = [s.strip() for s in args.seeds.split(",") if s.strip()]
    if not seeds:
        raise InputError("--seeds names no member")
    for s in seeds:
        if s not in tg:
            raise UnknownMember(s)
    return seeds


def _vet(args: argparse.Namespace) -> int:
    tg = _load(args)
    policy = _policy(args)
    decision = tg.vet(args.member, policy, _seeds(args, tg), asking=args.asking)
    _emit(decision.to_dict())
    return 0


def _pair(tg: TrustGraph, source: str, target: str, k: int) -> dict[str, Any]:
    for member in (source, target):
        if member not in tg:
            raise UnknownMember(member)
    shortest = tg.shortest_path(source, target)
    return {
        "from": source,
        "to": target,
        "shortest_path": list(shortest) if shortest else None,
        "paths": [list(p) for p in tg.disjoint_paths(source, target, k)],
    }


def _paths(args: argparse.Namespace) -> int:
    if args.batch is None:
        if not (args.source and args.target):
            raise InputError("give FROM and TO, or --batch PAIRS_FILE")
        tg = _load(args)
        _emit(_pair(tg, args.source, args.target, args.k))
        return 0
    if args.source or args.target:
        raise InputError("give either FROM TO or --batch, not both")
    if not args.batch.is_file():
        raise InputError(f"pairs file not found: {args.batch}")
    pairs = []
    for no, line in enumerate(args.batch.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = line.split()
        if len(cells) != 2:
            raise InputError(f"{args.batch}: line {no}: expected 'FROM TO'")
        pairs.append((cells[0], cells[1]))
    tg = _load(args)
    failed = 0
    for source, target in pairs:
        try:
            _emit(_pair(tg, source, target, args.k))
        except UnknownMember as exc:
            failed += 1
            _emit({"from": source, "to": target, "paths": None, "error": str(exc)})
    sys.stdout.flush()
    if failed:
        print(f"dsx trust paths: error: {failed} pair(s) name unknown members", file=sys.stderr)
        return 1
    return 0


def _impact(args: argparse.Namespace) -> int:
    tg = _load(args)
    seeds = _seeds(args, tg)
    radius = tg.blast_radius(args.member, _policy(args), seeds)
    orphaned = sorted((*radius.accepted, *radius.waiting))
    _emit({**radius.to_dict(), "seeds": seeds, "orphaned": orphaned})
    return 0


def _accepted(args: argparse.Namespace) -> int:
    tg = _load(args)
    members = sorted(tg.accepted(_policy(args), _seeds(args, tg)))
    _emit({"count": len(members), "accepted": members})
    return 0
