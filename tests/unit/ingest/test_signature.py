import hashlib
import hmac

from meridian_ingest.domain.signature import sign, verify

BODY = b'{"id":"m1","sender":{"id":"c1"},"text":"hi"}'


def test_sign_is_hmac_sha256_hex_of_the_raw_body():
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == "sha256=" + expected


def test_verify_accepts_the_right_signature_and_uppercase_hex():
    header = sign("s3cret", BODY)
    assert verify("s3cret", BODY, header)
    assert verify("s3cret", BODY, "sha256=" + header[7:].upper())
    assert verify("s3cret", BODY, "  " + header + " ")


def test_verify_rejects_missing_wrong_or_malformed_signatures():
    good = sign("s3cret", BODY)
    assert not verify("s3cret", BODY, None)
    assert not verify("s3cret", BODY, "")
    assert not verify("other", BODY, good)
    assert not verify("s3cret", BODY + b" ", good)           # any byte of the body matters
    assert not verify("s3cret", BODY, good[7:])               # no prefix
    assert not verify("s3cret", BODY, "sha1=" + good[7:])
    assert not verify("s3cret", BODY, "sha256=zz")
    assert not verify("s3cret", BODY, "sha256=" + "é" * 64)  # non-ASCII never raises
