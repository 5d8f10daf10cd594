import hashlib

from meridian_gateway.domain.keys import bearer_token, display_prefix, hash_key, new_api_key, tokens_equal


def test_new_keys_are_prefixed_long_and_unique():
    keys = {new_api_key() for _ in range(100)}
    assert len(keys) == 100
    for k in keys:
        assert k.startswith("mrd_")
        assert len(k) >= 4 + 43  # 32 random bytes, urlsafe base64
        assert all(c.isalnum() or c in "-_" for c in k[4:])


def test_hash_is_sha256_hex_of_the_key():
    assert hash_key("mrd_abc") == hashlib.sha256(b"mrd_abc").hexdigest()
    assert hash_key("mrd_abc") != hash_key("mrd_abd")


def test_display_prefix_is_first_eight_chars():
    assert display_prefix("mrd_ABCDEFGH") == "mrd_ABCD"


def test_bearer_token_parsing():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None
    assert bearer_token("") is None


def test_tokens_equal():
    assert tokens_equal("a" * 10, "a" * 10)
    assert not tokens_equal("a" * 10, "a" * 9 + "b")
    assert not tokens_equal("", "x")
