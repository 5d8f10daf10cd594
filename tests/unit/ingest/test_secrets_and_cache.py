import os
from uuid import uuid4

import pytest
from meridian.settings import PlatformSettings
from meridian_ingest.domain.model import InboxCredentials
from meridian_ingest.inbox_cache import InboxCache
from meridian_ingest.secretbox import KEY_FILE, SecretBox


def test_secrets_round_trip_and_are_not_stored_in_clear():
    box = SecretBox("master-key")
    token = box.encrypt("inbox-secret")
    assert "inbox-secret" not in token
    assert box.decrypt(token) == "inbox-secret"
    assert SecretBox("master-key").decrypt(token) == "inbox-secret"   # same key after a restart
    with pytest.raises(RuntimeError):
        SecretBox("another-key").decrypt(token)


def test_without_a_secret_key_a_persisted_random_key_is_used(tmp_path):
    platform = PlatformSettings(data_dir=tmp_path / "nested" / "data", secret_key=None)
    token = SecretBox.from_platform(platform).encrypt("s")
    key_file = tmp_path / "nested" / "data" / KEY_FILE
    assert key_file.exists() and oct(os.stat(key_file).st_mode & 0o777) == "0o600"
    assert SecretBox.from_platform(platform).decrypt(token) == "s"   # "restart": same file, same key
    with pytest.raises(RuntimeError):
        SecretBox.from_platform(PlatformSettings(data_dir=tmp_path / "other")).decrypt(token)


def creds(inbox_id):
    return InboxCredentials(id=inbox_id, tenant_id=uuid4(), channel="api", settings={}, secret="x")


async def test_cache_hits_expire_and_invalidate():
    calls = []
    now = [0.0]

    async def loader(inbox_id):
        calls.append(inbox_id)
        return creds(inbox_id)

    cache = InboxCache(loader, ttl=10, size=2, monotonic=lambda: now[0])
    a, b, c = uuid4(), uuid4(), uuid4()
    await cache.get(a)
    await cache.get(a)
    assert calls == [a]
    now[0] = 11
    await cache.get(a)
    assert calls == [a, a]                 # expired
    cache.invalidate(a)
    await cache.get(a)
    assert calls == [a, a, a]              # invalidated
    await cache.get(b)
    await cache.get(c)                     # evicts a (least recently used)
    await cache.get(a)
    assert calls[-1] == a and len(calls) == 6


async def test_cache_does_not_remember_unknown_inboxes():
    found = {}

    async def loader(inbox_id):
        return found.get(inbox_id)

    cache = InboxCache(loader)
    x = uuid4()
    assert await cache.get(x) is None
    found[x] = creds(x)
    assert (await cache.get(x)).id == x
