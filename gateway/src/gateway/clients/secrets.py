"""Client secrets: generated with the OS's CSPRNG, stored only as Argon2id hashes."""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.settings import GatewaySettings

SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh client secret (256 random bits, URL-safe text)."""
    return secrets.token_urlsafe(SECRET_BYTES)


class SecretHasher:
    """Hashes and checks secrets with Argon2id at the configured cost, at most
    argon2_max_concurrent at once: each one takes argon2_memory_kib of memory, so the bound
    keeps the process's memory flat however many secrets arrive together."""

    def __init__(self, settings: GatewaySettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._slots = threading.BoundedSemaphore(settings.argon2_max_concurrent)

    def hash(self, secret: str) -> str:
        """The encoded Argon2id hash of a secret (salted; parameters inside)."""
        with self._slots:
            return self._hasher.hash(secret)

    def verify(self, encoded: str | None, secret: str) -> bool:
        """Whether a secret matches a stored hash (False for a missing or broken hash)."""
        if not encoded:
            return False
        try:
            with self._slots:
                return bool(self._hasher.verify(encoded, secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, encoded: str) -> bool:
        """Whether a stored hash was made with other parameters than today's."""
        try:
            return bool(self._hasher.check_needs_rehash(encoded))
        except InvalidHashError:
            return True


def is_weak_secret(secret: str) -> bool:
    """Too short or too repetitive to protect an admin client in production."""
    return len(secret) < 24 or len(set(secret)) < 10
