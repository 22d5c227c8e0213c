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


@pytest.mark.parametrize("body", ["", "AAAA", "not base64!", "=" * 5, "A" * 40])
def test_a_mangled_ciphertext_is_a_decryption_error_not_a_crash(body: str) -> None:
    """Regression: a short one raised ValueError ("Nonce must be between 8 and 128 bytes"),
    which consumers retried for ever instead of dead-lettering the record."""
    box = SecretBox(SecretBox.generate_key())
    prefix = box.encrypt("x", context="c").split(":", 1)[0] + ":"
    with pytest.raises(DecryptionError):
        box.decrypt(prefix + body, context="c")
