"""The Ed25519 key that signs ledger checkpoints.

The private key lives in the home (``keys/ledger-ed25519.pem``, mode 0600) or
comes from ``CHARTER_SIGNING_KEY`` / ``CHARTER_SIGNING_KEY_FILE``. The public key
is written beside it so that an outside witness can verify checkpoints with it
alone.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from charter.errors import SigningKeyError, SigningKeyMissing, SigningKeyUnwritable


def key_id(public_key: Ed25519PublicKey) -> str:
    """``ed25519:`` and the first 16 hex digits of the SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def parse_private_key(pem: bytes, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{where} is not an unencrypted Ed25519 private key in PEM form ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where} holds a {type(key).__name__}, not an Ed25519 private key")
    return key


def parse_public_key(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{where} is not an Ed25519 public key in PEM form ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{where} holds a {type(key).__name__}, not an Ed25519 public key")
    return key


def load_private_key(path: Path, *, pem: str | None = None) -> Ed25519PrivateKey:
    """The signing key from ``pem`` (CHARTER_SIGNING_KEY) or else from ``path``."""
    if pem is not None:
        return parse_private_key(pem.encode(), "CHARTER_SIGNING_KEY")
    if not path.exists():
        public = path.with_name(path.name.removesuffix(".pem") + ".pub.pem")
        fix = (
            "restore it from a backup, or set CHARTER_SIGNING_KEY_FILE or CHARTER_SIGNING_KEY to it"
            if public.exists()
            else "run `charter init` to create one, or set CHARTER_SIGNING_KEY_FILE to the key's path"
        )
        raise SigningKeyMissing(f"no signing key at {path}; {fix}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SigningKeyError(
            f"signing key {path} can be read by other users (mode {mode:04o}); run `chmod 600 {path}`"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read signing key {path}: {exc.strerror}") from None
    return parse_private_key(data, str(path))


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SigningKeyMissing(f"no public key at {path}") from None
    except OSError as exc:
        raise SigningKeyError(f"cannot read public key {path}: {exc.strerror}") from None
    return parse_public_key(data, str(path))


def require_home_key(key: Ed25519PrivateKey, public_path: Path, *, source: str) -> None:
    """Refuse a signing key that is not the one whose public half the home keeps.

    Signing with another key would make every earlier checkpoint fail as ``unknown_key``.
    """
    if not public_path.exists():
        return
    home_key = load_public_key(public_path)
    if key_id(home_key) != key_id(key.public_key()):
        raise SigningKeyError(
            f"the signing key from {source} is {key_id(key.public_key())}, but this home's checkpoints are "
            f"signed with {key_id(home_key)} ({public_path}); use that key, or move the public key away "
            "to start signing with a new one"
        )


def create_key_files(private_path: Path, public_path: Path) -> tuple[Ed25519PrivateKey, list[Path]]:
    """Create a new key pair; the private file is created with mode 0600 and never overwritten.

    Returns the key and every file and folder created, oldest first. On failure nothing
    is left behind.
    """
    key = Ed25519PrivateKey.generate()
    private_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    created: list[Path] = []
    try:
        for directory in (private_path.parent, public_path.parent):
            missing = [d for d in (directory, *directory.parents) if not d.exists()]
            if missing:
                directory.mkdir(parents=True, mode=0o700)
                created.extend(reversed(missing))
        _write_new(private_path, private_bytes, 0o600)
        created.append(private_path)
        _write_new(public_path, public_pem(key.public_key()).encode(), 0o644)
        created.append(public_path)
    except OSError as exc:
        for path in reversed(created):
            if path.is_dir():
                path.rmdir()
            else:
                path.unlink(missing_ok=True)
        target = exc.filename or private_path
        raise SigningKeyUnwritable(
            f"cannot write the signing key to {target}: {exc.strerror}; make the folder writable, "
            "or set CHARTER_SIGNING_KEY_FILE to a writable path"
        ) from None
    return key, created


def _write_new(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
