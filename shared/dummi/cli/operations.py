"""``dummi openapi | keys | metrics | evaluate-policy``: the spec, API keys, the online figures."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dummi.errors import DummiError
from dummi.progress import BarProgress

Subparsers = argparse._SubParsersAction


def add_openapi(sub: Subparsers) -> None:
    spec = sub.add_parser("openapi", help="export the OpenAPI spec")
    spec.add_argument("--out", default="-", help="file to write, or - for stdout")
    spec.set_defaults(func=_cmd_openapi)


def _cmd_openapi(args: argparse.Namespace) -> int:
    from dummi.api.app import create_full_app  # the API when the command runs (see the package docstring)

    spec = json.dumps(create_full_app().openapi(), indent=2, sort_keys=True) + "\n"
    if args.out == "-":
        sys.stdout.write(spec)
    else:
        Path(args.out).write_text(spec, encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def add_keys(sub: Subparsers) -> None:
    keys = sub.add_parser("keys", help="API keys (needed when DUMMI_AUTH=on): create, list, revoke, reseal")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="make a key and print it once (only its hash is stored)")
    create.add_argument(
        "--scope", action="append", required=True, help="read, write or admin (repeat or comma-separate)"
    )
    create.add_argument("--name", default="", help="what the key is for")
    sigv4 = "a SigV4 credential for boto3's Personalize clients (docs/personalize.md), not an API key"
    create.add_argument("--sigv4", action="store_true", help=f"{sigv4}: an access key id and a secret, shown once")
    listing = keys_sub.add_parser("list", help="key ids, scopes and names (never the keys)")
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.add_argument("--sigv4", action="store_true", help="list SigV4 credentials instead")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by its id (the part after dk_)")
    revoke.add_argument("key_id")
    revoke.add_argument("--sigv4", action="store_true", help="revoke a SigV4 credential by its access key id")
    keys_sub.add_parser(
        "reseal",
        help="seal every SigV4 secret with the first key of DUMMI_SECRETS_KEY (after putting a new key first; "
        "then the old one can be dropped)",
    )
    keys.set_defaults(func=_cmd_keys)


def _cmd_keys(args: argparse.Namespace) -> int:
    # the database when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.services import api_keys

    db = get_database()
    migrate(db)
    try:
        if args.keys_command == "reseal" or args.sigv4:
            _sigv4_keys(db, args)
        elif args.keys_command == "create":
            new = api_keys.create_key(db, args.scope, args.name)
            print(
                f"created key {new.record.key_id} ({', '.join(new.record.scopes)}); it is shown only now:",
                file=sys.stderr,
            )
            print(new.key)
        elif args.keys_command == "revoke":
            record = api_keys.revoke_key(db, args.key_id)
            print(f"revoked {record.key_id} at {record.revoked_at.isoformat()}")
        else:
            listed = api_keys.list_keys(db, include_revoked=args.all)
            if not listed:
                print(
                    "no API keys" + ("" if args.all else " in use") + ": dummi keys create --scope ...", file=sys.stderr
                )
            for record in listed:
                revoked = f"  revoked {record.revoked_at.isoformat()}" if record.revoked_at else ""
                print(
                    f"{record.key_id}  {','.join(record.scopes):<16} {record.created_at.isoformat()}"
                    f"  {record.name}{revoked}"
                )
    except DummiError as exc:
        print(f"dummi keys {args.keys_command}: {exc.message}", file=sys.stderr)
        return 2
    return 0


def _sigv4_keys(db, args: argparse.Namespace) -> None:
    """``keys create|list|revoke --sigv4`` and ``keys reseal``: the secret is sealed with DUMMI_SECRETS_KEY and
    printed once; ``reseal`` seals every stored secret with its first key."""
    from dummi.services.personalize import credentials

    if args.keys_command == "create":
        new = credentials.create_sigv4_key(db, args.scope, args.name)
        print(
            f"created SigV4 credential ({', '.join(new.record.scopes)}); the secret is shown only now:",
            file=sys.stderr,
        )
        print(f"aws_access_key_id = {new.access_key_id}")
        print(f"aws_secret_access_key = {new.secret_access_key}")
    elif args.keys_command == "revoke":
        record = credentials.revoke_sigv4_key(db, args.key_id)
        print(f"revoked {record.access_key_id} at {record.revoked_at.isoformat()}")
    elif args.keys_command == "reseal":
        done = credentials.reseal_sigv4_keys(db)
        print(
            f"re-sealed {done.resealed} SigV4 secret(s) with key {done.key_id!r} ({done.current} were sealed with it"
            f" already); every secret now opens with it alone"
        )
    else:
        listed = credentials.list_sigv4_keys(db, include_revoked=args.all)
        if not listed:
            print(
                "no SigV4 credentials" + ("" if args.all else " in use") + ": dummi keys create --sigv4 ...",
                file=sys.stderr,
            )
        for record in listed:
            revoked = f"  revoked {record.revoked_at.isoformat()}" if record.revoked_at else ""
            print(
                f"{record.access_key_id}  {','.join(record.scopes):<16} {record.created_at.isoformat()}"
                f"  {record.name}{revoked}"
            )


def add_metrics(sub: Subparsers) -> None:
    metrics = sub.add_parser(
        "metrics", help="compute the online metrics now (the hourly job), then print the last days' figures"
    )
    metrics.add_argument("--days", type=int, default=7, help="days to print (default 7)")
    metrics.add_argument("--group-by", default="day,surface,experiment,variant", help="dimensions to print by")
    metrics.set_defaults(func=_cmd_metrics)


def _cmd_metrics(args: argparse.Namespace) -> int:
    # the database and numpy when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.services import online_metrics_service

    groups = online_metrics_service.groups_of(args.group_by)
    unknown = [g for g in groups if g not in online_metrics_service.DIMENSIONS]
    if unknown or args.days < 1:  # as GET /metrics/online refuses them, before any work
        problem = f"--group-by: {', '.join(unknown)} not among {', '.join(online_metrics_service.DIMENSIONS)}"
        print(f"dummi metrics: {problem if unknown else '--days: at least 1'}", file=sys.stderr)
        return 2
    db = get_database()
    migrate(db)
    done = online_metrics_service.run(db, progress=BarProgress())
    print(json.dumps(done))
    today = datetime.now(UTC).date()
    for row in online_metrics_service.query(db, today - timedelta(days=args.days - 1), today, groups):
        print(json.dumps(row))
    return 0


def add_evaluate_policy(sub: Subparsers) -> None:
    policy = sub.add_parser(
        "evaluate-policy",
        help="estimate another exploration policy's slot CTR from the logged decisions (self-normalised IPS)",
    )
    policy.add_argument("--policy", choices=["thompson", "greedy", "uniform"], required=True)
    policy.add_argument("--prior-strength", type=float, default=10.0, help="thompson/greedy: pseudo-impressions")
    policy.add_argument("--days", type=float, default=30.0, help="decisions of the last DAYS days")
    policy.set_defaults(func=_cmd_evaluate_policy)


def _cmd_evaluate_policy(args: argparse.Namespace) -> int:
    # the database and numpy when the command runs (see the package docstring)
    from dummi.db.connection import get_database
    from dummi.db.migrations import migrate
    from dummi.services.policy_evaluation import evaluate_policy

    db = get_database()
    migrate(db)
    result = evaluate_policy(db, args.policy, prior_strength=args.prior_strength, days=args.days)
    print(json.dumps(result))
    if result["estimate"] is None:
        why = (
            "no exploration decisions logged in that period"
            if not result["decisions"]
            else "the policy would have made none of the logged choices: the log cannot tell"
        )
        print(f"dummi evaluate-policy: {why}", file=sys.stderr)
        return 1
    print(
        f"{args.policy}: estimated CTR of the exploration slots {result['estimate']:.4f} against "
        f"{result['logged_ctr']:.4f} logged, from {result['decisions']} decisions "
        f"({result['effective_decisions']:.0f} effective)",
        file=sys.stderr,
    )
    return 0
