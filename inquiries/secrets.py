"""Secrets kept in the database (mailbox passwords, webhook secrets), encrypted with Fernet.

Keys: every entry of CSTRACKER_FIELD_KEYS (comma-separated in the environment; a Fernet key
or any passphrase), then a key derived from SECRET_KEY. The first one encrypts; all of them
decrypt, so a new key can be put in front and old tokens still open. Changing SECRET_KEY
without setting CSTRACKER_FIELD_KEYS makes stored secrets unreadable: the error says so.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretError(Exception):
    """A secret that cannot be had; the message is for the operator and names no secret."""


def _fernet_key(material: str) -> bytes:
    raw = material.encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw  # already a Fernet key
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(b"cstracker-field-key:" + raw).digest())


def _fernet() -> MultiFernet:
    materials = [*settings.CSTRACKER_FIELD_KEYS, settings.SECRET_KEY]
    return MultiFernet([Fernet(_fernet_key(material)) for material in materials])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretError(
            "the stored secret cannot be decrypted (SECRET_KEY or CSTRACKER_FIELD_KEYS changed?); "
            "enter it again"
        ) from None


def resolve(*, env_name: str, encrypted: str, what: str) -> str:
    """The secret from the environment variable `env_name`, else the stored token; SecretError if none."""
    if env_name:
        value = os.environ.get(env_name)
        if not value:
            raise SecretError(f"{what}: the environment variable {env_name} is not set")
        return value
    if encrypted:
        return decrypt(encrypted)
    raise SecretError(f"{what}: none configured (give an environment variable name or store one)")
