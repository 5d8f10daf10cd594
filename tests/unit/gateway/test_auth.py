import uuid

from meridian_gateway.auth import ApiKeyAuthenticator
from meridian_gateway.domain.keys import hash_key
from meridian_gateway.domain.model import Principal


async def test_cache_and_forget():
    calls = []
    p = Principal(uuid.uuid4(), uuid.uuid4())

    async def lookup(h):
        calls.append(h)
        return p if h == hash_key("good") else None

    auth = ApiKeyAuthenticator(lookup, ttl=60, size=10)
    assert await auth.authenticate("good") == p
    assert await auth.authenticate("good") == p
    assert len(calls) == 1
    assert await auth.authenticate("bad") is None
    assert await auth.authenticate(None) is None
    auth.forget(hash_key("good"))
    assert await auth.authenticate("good") == p
    assert len(calls) == 3


async def test_zero_ttl_never_caches():
    n = 0

    async def lookup(h):
        nonlocal n
        n += 1
        return Principal(uuid.uuid4(), uuid.uuid4())

    auth = ApiKeyAuthenticator(lookup, ttl=0, size=10)
    await auth.authenticate("a")
    await auth.authenticate("a")
    assert n == 2
