"""Staff accounts: a person of a department (or district-wide staff) with the same scopes as an API key.
The dashboard signs them in with their password (kept as an Argon2id hash, argon2-cffi); their API keys
stop working when the account is disabled."""
from __future__ import annotations

import re
import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .readers import Viewer

LOGIN = re.compile(r"^[a-z][a-z0-9._-]{1,62}$")
_HASHER = PasswordHasher()   # the library's defaults (RFC 9106's second recommended profile)
MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _stand_in() -> str:
    return _HASHER.hash(secrets.token_hex(16))


def password_matches(password_hash: str | None, password: str) -> bool:
    """Does ``password`` match; without a hash (no such account, no password) it is checked against a
    stand-in all the same, so that the time taken does not tell which logins exist."""
    try:
        return _HASHER.verify(password_hash or _stand_in(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def user_viewer(row) -> Viewer:
    """The reader a signed-in account (:class:`citylink.store.base.UserRow`) stands for."""
    return Viewer(f"user {row.login}", admin="admin" in row.scopes, staff="staff" in row.scopes,
                  departments=frozenset([row.department] if row.department else []))
