"""``aimass tokens|whoami|quotas``: API tokens, the calling token, quotas and usage."""

from __future__ import annotations

import argparse
from datetime import date, datetime

from aimass.cli_api_kit import (
    Column,
    Subparsers,
    UsageError,
    emit,
    group,
    leaf,
    say,
    warn,
)
from aimass.client import Client

TOKEN_COLUMNS: list[Column] = [
    ("id", "id"),
    ("name", "name"),
    ("project", lambda t: t.get("project") or "(all)"),
    ("scopes", "scopes"),
    ("models", lambda t: t.get("models") or "(all)"),
    ("expires", "expires_at"),
    ("revoked", "revoked_at"),
    ("last used", "last_used_at"),
]
SCOPES = ["read", "data:write", "train", "deploy", "predict", "admin"]


def add_tokens(sub: Subparsers) -> None:
    actions = group(sub, "tokens", "API tokens (admin)")
    parser = leaf(actions, "create", _tokens_create, "issue a token", project=False)
    parser.add_argument("name", help="what the token is for")
    parser.add_argument("--project", default="", help="bind it to a project")
    parser.add_argument("--scope", nargs="+", required=True, choices=SCOPES, dest="scopes")
    parser.add_argument("--model", nargs="+", default=[], dest="models", help="allowed models")
    parser.add_argument("--expires", type=datetime.fromisoformat, help="ISO 8601 time")
    parser = leaf(actions, "list", _tokens_list, "tokens you administer", project=False)
    parser.add_argument("--all", action="store_true", help="include revoked ones")
    parser = leaf(actions, "revoke", _tokens_revoke, "revoke a token", project=False)
    parser.add_argument("token_id")
    leaf(sub, "whoami", _whoami, "the calling token", project=False)


def _tokens_create(args: argparse.Namespace, client: Client) -> int:
    issued = client.create_token(args.name, args.scopes, args.project, args.models, args.expires)
    if args.json:
        emit(args, issued)
        return 0
    emit(args, issued, TOKEN_COLUMNS)
    say(f"\nsecret (shown once, store it now): {issued['secret']}")
    return 0


def _tokens_list(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.tokens(include_revoked=args.all), TOKEN_COLUMNS)
    return 0


def _tokens_revoke(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.revoke_token(args.token_id), TOKEN_COLUMNS)
    return 0


def _whoami(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.whoami())
    return 0


QUOTA_COLUMNS: list[Column] = [
    ("model", lambda q: q.get("model") or "(all)"),
    ("rate/s", "rate_per_second"),
    ("burst", "burst"),
    ("period", "period"),
    ("limit", "period_limit"),
    ("updated", "updated_at"),
]
USAGE_COLUMNS: list[Column] = [
    ("day", "day"),
    ("token", "token_name"),
    ("model", lambda u: u.get("model") or "(api)"),
    ("requests", "requests"),
    ("refused", "refused"),
    ("errors", "errors"),
]


def add_quotas(sub: Subparsers) -> None:
    actions = group(sub, "quotas", "quotas and usage of tokens (admin)")
    parser = leaf(actions, "set", _quotas_set, "replace a token's limits", project=False)
    parser.add_argument("token_id")
    parser.add_argument("--model", default="", help="limits for one model (deployment) only")
    parser.add_argument("--rate", type=float, dest="rate_per_second", help="requests per second")
    parser.add_argument("--burst", type=int, help="requests at once (default: 1 s of the rate)")
    parser.add_argument("--period", choices=["day", "month"], help="UTC period of --limit")
    parser.add_argument("--limit", type=int, dest="period_limit", help="requests per period")
    parser = leaf(actions, "list", _quotas_list, "a token's limits", project=False)
    parser.add_argument("token_id")
    parser = leaf(actions, "delete", _quotas_delete, "remove a token's limits", project=False)
    parser.add_argument("token_id")
    parser.add_argument("--model", default="")
    parser = leaf(actions, "usage", _quotas_usage, "requests by day and model", project=False)
    parser.add_argument("token_id", nargs="?", default="", help="default: the project's tokens")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--to", dest="last", type=date.fromisoformat, help="default: today")


def _quotas_set(args: argparse.Namespace, client: Client) -> int:
    if args.rate_per_second is None and args.period_limit is None:
        raise UsageError("give --rate and/or --period with --limit")
    quota = client.set_quota(
        args.token_id,
        args.model,
        rate_per_second=args.rate_per_second,
        burst=args.burst,
        period=args.period,
        period_limit=args.period_limit,
    )
    emit(args, quota, QUOTA_COLUMNS)
    return 0


def _quotas_list(args: argparse.Namespace, client: Client) -> int:
    emit(args, client.quotas(args.token_id), QUOTA_COLUMNS)
    return 0


def _quotas_delete(args: argparse.Namespace, client: Client) -> int:
    client.delete_quota(args.token_id, args.model)
    what = f" for model {args.model}" if args.model else ""
    warn(f"quota of token {args.token_id}{what} removed")
    return 0


def _quotas_usage(args: argparse.Namespace, client: Client) -> int:
    usage = client.usage(args.token_id, args.first, args.last)
    if args.json:
        emit(args, usage)
        return 0
    say(f"{usage['first_day']} to {usage['last_day']}")
    columns = USAGE_COLUMNS[1:] if not args.token_id else USAGE_COLUMNS[:1] + USAGE_COLUMNS[2:]
    emit(args, usage.get("items", []), columns)
    return 0
