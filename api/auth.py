"""API keys: hashing, constant-time verification and the route dependencies.

Keys are configured as SHA-256 hashes, so the service never stores a key. A
presented key is hashed and compared with every configured hash by
`hmac.compare_digest`, so the time taken does not depend on which hash matched
or on how many leading characters agree.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status

from api.settings import ApiKeyConfig

DEV_KEY_PREFIX = "lt_dev_"


@dataclass(frozen=True)
class Principal:
    """The caller identified by a key: its log label and scope."""

    name: str
    scope: Literal["read", "write"]


def hash_key(key: str) -> str:
    """Return the `sha256:<hex>` form of a key, as `LONGTAIL_API_KEYS` expects it."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key(prefix: str = DEV_KEY_PREFIX) -> str:
    """Return a new random key with 256 bits of entropy."""
    return prefix + secrets.token_urlsafe(32)


def verify_key(key: str, configured: list[ApiKeyConfig]) -> Principal | None:
    """Return the principal of a presented key, or None when no configured hash matches.

    Every configured hash is compared, even after a match, so that the time taken
    does not reveal the position of the matching entry.
    """
    presented = hash_key(key).encode("ascii")
    found: Principal | None = None

    for index, entry in enumerate(configured):
        if hmac.compare_digest(presented, entry.hash.encode("ascii")) and found is None:
            found = Principal(name=entry.name or f"key-{index}", scope=entry.scope)

    return found


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_key(request: Request) -> Principal:
    """Authenticate the `Authorization: Bearer KEY` header of a request."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")

    if not header:
        raise _unauthorized("missing API key: send the header 'Authorization: Bearer <key>'")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("invalid Authorization header: expected 'Bearer <key>'")

    principal = verify_key(key.strip(), request.app.state.settings.api_keys)
    if principal is None:
        raise _unauthorized("invalid API key: no configured key matches")

    request.state.principal = principal
    return principal


def require_write_key(principal: Annotated[Principal, Depends(require_key)]) -> Principal:
    """Authenticate a request and require a key with the `write` scope."""
    if principal.scope != "write":
        raise HTTPException(
            status_code=status.HTTP_403_FORBIDDEN,
            detail=f"API key '{principal.name}' has scope 'read'; training and cancelling jobs need a 'write' key",
        )
    return principal


ReadKey = Annotated[Principal, Depends(require_key)]
WriteKey = Annotated[Principal, Depends(require_write_key)]


def _main(argv: list[str]) -> int:
    """Print the hash of a key (`hash KEY`) or a new key and its hash (`new`)."""
    if len(argv) == 2 and argv[0] == "hash":
        print(hash_key(argv[1]))
        return 0
    if len(argv) == 1 and argv[0] == "new":
        key = generate_key(prefix="lt_")
        print(f"key:  {key}\nhash: {hash_key(key)}")
        return 0
    print("usage: python -m api.auth hash KEY | python -m api.auth new", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
