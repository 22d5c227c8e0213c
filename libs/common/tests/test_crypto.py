"""Credentials at rest."""

import pytest

from timebridge_common.crypto import DecryptionError, SecretBox


def test_round_trip_and_binding_to_context() -> None:
    box = SecretBox(SecretBox.generate_key())
    stored = box.encrypt("everhour-api-key", context="acme/everhour")
    assert "everhour-api-key" not in stored
    assert stored != box.encrypt("everhour-api-key", context="acme/everhour")  # random nonce
    assert box.decrypt(stored, context="acme/everhour") == "everhour-api-key"
    with pytest.raises(DecryptionError):
        box.decrypt(stored, context="other/everhour")
    with pytest.raises(DecryptionError):
        SecretBox(SecretBox.generate_key()).decrypt(stored, context="acme/everhour")


def test_key_must_be_256_bits() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretBox("c2hvcnQ=")
