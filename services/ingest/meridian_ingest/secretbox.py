"""Inbox secrets are encrypted at rest with Fernet under a key derived (HKDF-SHA256) from
``MERIDIAN_SECRET_KEY``. Without one, a random master key is created once at
``<MERIDIAN_DATA_DIR>/secret.key`` (mode 0600) so an embedded platform can still decrypt after a restart."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from meridian.settings import PlatformSettings

INFO = b"meridian.ingest.inbox-secrets.v1"
KEY_FILE = "secret.key"


def derive_fernet_key(master: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(master.encode())
    return base64.urlsafe_b64encode(raw)


def load_or_create_master(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(candidate + "\n")
    return candidate


class SecretBox:
    def __init__(self, master: str) -> None:
        if not master:
            raise ValueError("empty master key")
        self._fernet = Fernet(derive_fernet_key(master))

    @classmethod
    def from_platform(cls, platform: PlatformSettings) -> SecretBox:
        return cls(platform.secret_key or load_or_create_master(Path(platform.data_dir)))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise RuntimeError("inbox secret cannot be decrypted: was MERIDIAN_SECRET_KEY changed?") from exc
