"""Encryption at rest for credentials (API keys, webhook secrets, OAuth tokens).

AES-256-GCM with a random 96-bit nonce per value; the stored form is ``v1:<base64(nonce|ct)>``.
The associated data binds a ciphertext to its row (e.g. ``"workspace:acme/core-webhook"``), so
a value copied into another row fails to decrypt instead of leaking across tenants.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_PREFIX = "v1:"


class DecryptionError(Exception):
    pass


class SecretBox:
    def __init__(self, key_b64: str) -> None:
        key = base64.urlsafe_b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("encryption key must be 32 bytes, base64url-encoded")
        self._aead = AESGCM(key)

    @staticmethod
    def generate_key() -> str:
        return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return _PREFIX + base64.urlsafe_b64encode(nonce + ct).decode()

    def decrypt(self, stored: str, *, context: str) -> str:
        if not stored.startswith(_PREFIX):
            raise DecryptionError("unknown ciphertext format")
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(_PREFIX))
        except ValueError as exc:  # binascii.Error: not base64 at all
            raise DecryptionError("ciphertext is not base64") from exc
        if len(raw) < 12 + 16:  # a nonce and a tag at least; shorter is mangled, not a secret
            raise DecryptionError("ciphertext is too short")
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (InvalidTag, UnicodeDecodeError) as exc:
            raise DecryptionError("ciphertext does not decrypt with this key and context") from exc
