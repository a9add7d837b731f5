"""API credentials: per-region writers, national readers and admins, stored hashed.

A credential is a bearer token ``kt_<key_id>_<secret>``. The credentials file (JSON lines, path in
``KOTAKU_CREDENTIALS_FILE``, mounted from a secret in a cluster) holds for each key its role, its
regions and the SHA-256 of its secret, never the secret itself: tokens are 256-bit random, so a
fast hash is enough and verification stays cheap. Every service reads the same file and reloads
it when it changes, so issuing or revoking a credential needs no restart.

    python -m shared.kernel.auth create --role region --region oc02 --label "OC 02 MIS"   (prints the token once)
    python -m shared.kernel.auth list
    python -m shared.kernel.auth revoke <key_id>

Roles: ``region`` writes and reads its own regions' data; ``national`` reads everything;
``admin`` manages reference data and may act on every region.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from shared.kernel.errors import Forbidden
from shared.kernel.http import ApiError
from shared.kernel.settings import REGION_PATTERN

TOKEN_PREFIX = "kt_"  # noqa: S105 - a prefix, not a secret


class Role(StrEnum):
    REGION = "region"
    NATIONAL = "national"
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    regions: frozenset[str]
    label: str

    def may_write(self, region: str) -> bool:
        return self.role is Role.ADMIN or (self.role is Role.REGION and region in self.regions)

    def may_read(self, region: str) -> bool:
        return self.role in (Role.ADMIN, Role.NATIONAL) or region in self.regions

    @property
    def reads_everything(self) -> bool:
        return self.role in (Role.ADMIN, Role.NATIONAL)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class CredentialStore:
    """The credentials file, reloaded whenever its modification time changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._mtime: float | None = None
        self._entries: dict[str, dict[str, object]] = {}

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            mtime = self.path.stat().st_mtime
        except FileNotFoundError:
            self._entries, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        entries = {}
        for line in self.path.read_text().splitlines():
            if line.strip():
                entry = json.loads(line)
                entries[str(entry["key_id"])] = entry
        self._entries, self._mtime = entries, mtime

    def authenticate(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        key_id, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
        self._load()
        entry = self._entries.get(key_id)
        if entry is None or entry.get("revoked_at") or not secret:
            return None
        if not hmac.compare_digest(str(entry["secret_sha256"]), _digest(secret)):
            return None
        regions = entry.get("regions") or []
        assert isinstance(regions, list)
        return Principal(key_id, Role(str(entry["role"])), frozenset(map(str, regions)), str(entry.get("label", "")))

    # -- administration (CLI and tests) -------------------------------------------------------
    def create(self, role: Role, regions: Sequence[str] = (), label: str = "") -> str:
        if self.path is None:
            raise ValueError("no credentials file configured")
        if role is Role.REGION and not regions:
            raise ValueError("a region credential needs at least one region")
        for region in regions:
            if not re.match(REGION_PATTERN, region):
                raise ValueError(f"not a region code: {region}")
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        entry = {
            "key_id": key_id,
            "role": role.value,
            "regions": sorted(regions),
            "label": label,
            "secret_sha256": _digest(secret),
            "created_at": datetime.now(UTC).isoformat(),
            "revoked_at": None,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(entry) + "\n")
        self.path.chmod(0o600)
        return f"{TOKEN_PREFIX}{key_id}_{secret}"

    def entries(self) -> list[dict[str, object]]:
        self._mtime = None
        self._load()
        return list(self._entries.values())

    def revoke(self, key_id: str) -> bool:
        entries = self.entries()
        found = False
        for entry in entries:
            if entry["key_id"] == key_id and not entry.get("revoked_at"):
                entry["revoked_at"] = datetime.now(UTC).isoformat()
                found = True
        if found and self.path is not None:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(e) + "\n" for e in entries))
            tmp.chmod(0o600)
            tmp.replace(self.path)
        return found


def token_in(headers: Mapping[str, str]) -> str | None:
    """The credential a request sends (``Authorization: Bearer`` or ``X-API-Key``), if any."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return headers.get("x-api-key")


def _token_of(request: Request) -> str | None:
    return token_in(request.headers)


def sends_valid_credential(store: CredentialStore | None, headers: Mapping[str, str]) -> bool:
    """Whether the request's headers carry a credential ``store`` knows and has not revoked."""
    token = token_in(headers)
    return token is not None and store is not None and store.authenticate(token) is not None


# The dependencies below are ``async`` although they do not wait: FastAPI runs a plain ``def``
# dependency in a worker thread, a hand-off per dependency and request that under load cost the
# reporting API more than the report itself.
async def optional_principal(request: Request) -> Principal | None:
    token = _token_of(request)
    if token is None:
        return None
    store: CredentialStore = request.app.state.credentials
    principal = store.authenticate(token)
    if principal is None:
        raise ApiError(401, "invalid_credential", "the credential is unknown, malformed or revoked")
    return principal


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise ApiError(
            401, "credential_required", "send a credential as 'Authorization: Bearer <token>' or 'X-API-Key: <token>'"
        )
    return principal


OptionalCaller = Annotated[Principal | None, Depends(optional_principal)]


async def _caller(principal: OptionalCaller) -> Principal:
    return require_principal(principal)


Caller = Annotated[Principal, Depends(_caller)]


def ensure_may_write(principal: Principal, region: str) -> None:
    if not principal.may_write(region):
        raise Forbidden("region_forbidden", f"this credential may not write data of region {region}")


def ensure_may_read(principal: Principal, region: str) -> None:
    if not principal.may_read(region):
        raise Forbidden("region_forbidden", f"this credential may not read data of region {region}")


def ensure_admin(principal: Principal) -> None:
    if principal.role is not Role.ADMIN:
        raise Forbidden("admin_required", "this action needs an admin credential")


def ensure_national_reader(principal: Principal) -> None:
    if not principal.reads_everything:
        raise Forbidden("national_reader_required", "this data needs a national read credential")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.kernel.auth", description="Manage API credentials.")
    parser.add_argument(
        "--file",
        type=Path,
        default=os.environ.get("KOTAKU_CREDENTIALS_FILE"),
        help="credentials file (default: $KOTAKU_CREDENTIALS_FILE)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="issue a credential and print its token once")
    create.add_argument("--role", choices=[r.value for r in Role], required=True)
    create.add_argument("--region", action="append", default=[], help="region code (repeatable)")
    create.add_argument("--label", default="")
    sub.add_parser("list", help="list credentials (never their secrets)")
    revoke = sub.add_parser("revoke", help="revoke a credential by key id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.file is None:
        parser.error("set --file or KOTAKU_CREDENTIALS_FILE")
    store = CredentialStore(Path(args.file))
    if args.command == "create":
        try:
            print(store.create(Role(args.role), args.region, args.label))
        except ValueError as exc:
            parser.error(str(exc))
    elif args.command == "list":
        for e in store.entries():
            state = f"revoked {e['revoked_at']}" if e.get("revoked_at") else "active"
            print(
                f"{e['key_id']}  {e['role']:<8}  {','.join(map(str, e.get('regions') or [])) or '-':<12}  "  # type: ignore[call-overload]
                f"{state:<8}  {e.get('label', '')}"
            )
    elif not store.revoke(args.key_id):
        print(f"no active credential {args.key_id}", file=sys.stderr)
        sys.exit(1)
    else:
        print(f"revoked {args.key_id}")


if __name__ == "__main__":
    main()
