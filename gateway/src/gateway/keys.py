"""The gateway's signing keys: the current private key and the published public keys (JWKS).

Either the key comes from settings (GATEWAY_SIGNING_KEY_PEM or GATEWAY_SIGNING_KEY_FILE, with
retired public keys in GATEWAY_PREVIOUS_JWKS_JSON) or, for local runs, it is generated once
into keys_dir:

- ``signing_key.pem``: the current private key (mode 0600);
- ``jwks.json``: the public keys services trust: the current one and the retired ones whose
  tokens may still be alive (services read this file by default);
- ``keyring.json``: which kid is current and when each retired one was retired.

`rotate` makes a new current key and keeps the old public key published until every token it
signed has expired; `prune` drops retired keys after that.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.settings import GatewaySettings
from pilnveide_kit.signing import TokenSigner, generate_rsa_private_key, public_jwk, rsa_key_bits

PRIVATE_KEY_FILE = "signing_key.pem"
JWKS_FILE = "jwks.json"
KEYRING_FILE = "keyring.json"


class SigningKeyMissing(RuntimeError):
    """No signing key is configured and none was generated."""


@dataclass(frozen=True)
class KeyMaterial:
    """A loaded key state: the current private key, its kid and every published public key."""

    private_pem: str
    kid: str
    published: tuple[dict[str, Any], ...]


def _write_private(path: Path, content: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(content)
    os.replace(tmp, path)
    path.chmod(0o600)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(tmp, path)


def _retention_s(settings: GatewaySettings) -> int:
    """How long a retired public key must stay published: a token's life plus leeway."""
    return settings.token_lifetime_s + settings.auth_leeway_s + 60


def ensure_keys(settings: GatewaySettings, *, now: float | None = None) -> bool:
    """Generate the development key under keys_dir if there is none; True if one was made."""
    if settings.keys_configured:
        return False
    directory = Path(settings.keys_dir)
    if (directory / PRIVATE_KEY_FILE).exists() and (directory / JWKS_FILE).exists():
        prune(settings, now=now)
        return False
    directory.mkdir(parents=True, exist_ok=True)
    _install_new_key(settings, retired=[], now=now)
    return True


def _keyring(directory: Path) -> dict[str, Any]:
    path = directory / KEYRING_FILE
    if not path.exists():
        return {"current": None, "retired": []}
    return dict(json.loads(path.read_text()))


def _install_new_key(
    settings: GatewaySettings, *, retired: list[dict[str, Any]], now: float | None
) -> str:
    directory = Path(settings.keys_dir)
    pem = generate_rsa_private_key(settings.rsa_key_bits)
    jwk = public_jwk(pem)
    published = [jwk] + [entry["jwk"] for entry in retired]
    # Publish first, then switch the private key: a verifier never meets a kid it cannot find.
    _write_json(directory / JWKS_FILE, {"keys": published})
    _write_json(
        directory / KEYRING_FILE,
        {"current": jwk["kid"], "created_at": int(now or time.time()), "retired": retired},
    )
    _write_private(directory / PRIVATE_KEY_FILE, pem)
    return jwk["kid"]


def rotate(settings: GatewaySettings, *, now: float | None = None) -> str:
    """Make a new current key; the old public key stays published while its tokens live."""
    if settings.keys_configured:
        raise RuntimeError(
            "The signing key comes from settings: rotate by configuring the new key and moving "
            "the old public key into GATEWAY_PREVIOUS_JWKS_JSON (see docs/security.md)"
        )
    ensure_keys(settings, now=now)
    directory = Path(settings.keys_dir)
    current_pem = (directory / PRIVATE_KEY_FILE).read_text()
    keyring = _keyring(directory)
    current = public_jwk(current_pem)
    retired = [{"jwk": current, "retired_at": int(now or time.time())}]
    retired += _still_alive(settings, keyring.get("retired", []), now)
    return _install_new_key(settings, retired=retired, now=now)


def _still_alive(
    settings: GatewaySettings, retired: list[dict[str, Any]], now: float | None
) -> list[dict[str, Any]]:
    moment = now if now is not None else time.time()
    return [e for e in retired if moment - float(e["retired_at"]) < _retention_s(settings)]


def prune(settings: GatewaySettings, *, now: float | None = None) -> list[str]:
    """Stop publishing retired keys whose tokens have all expired; the kids dropped."""
    if settings.keys_configured:
        return []
    directory = Path(settings.keys_dir)
    keyring = _keyring(directory)
    retired = keyring.get("retired", [])
    alive = _still_alive(settings, retired, now)
    if len(alive) == len(retired):
        return []
    pem = (directory / PRIVATE_KEY_FILE).read_text()
    current = public_jwk(pem)
    _write_json(directory / JWKS_FILE, {"keys": [current] + [e["jwk"] for e in alive]})
    keyring["retired"] = alive
    _write_json(directory / KEYRING_FILE, keyring)
    alive_kids = {e["jwk"]["kid"] for e in alive}
    return [e["jwk"]["kid"] for e in retired if e["jwk"]["kid"] not in alive_kids]


def _configured_material(settings: GatewaySettings) -> KeyMaterial:
    if settings.signing_key_pem is not None:
        pem = settings.signing_key_pem.get_secret_value()
    else:
        pem = Path(str(settings.signing_key_file)).read_text()
    current = public_jwk(pem, settings.signing_kid)
    previous: list[dict[str, Any]] = []
    if settings.previous_jwks_json:
        previous = [
            k
            for k in json.loads(settings.previous_jwks_json).get("keys", [])
            if k.get("kid") != current["kid"]
        ]
    return KeyMaterial(pem, current["kid"], (current, *previous))


def _file_material(settings: GatewaySettings) -> KeyMaterial:
    directory = Path(settings.keys_dir)
    try:
        pem = (directory / PRIVATE_KEY_FILE).read_text()
        published = json.loads((directory / JWKS_FILE).read_text()).get("keys", [])
    except FileNotFoundError as exc:
        raise SigningKeyMissing(
            f"No signing key in {directory}: run `gateway prepare` or configure "
            "GATEWAY_SIGNING_KEY_PEM / GATEWAY_SIGNING_KEY_FILE"
        ) from exc
    # Generated keys are named by their thumbprint, so the kid always matches the PEM read,
    # even while a rotation is half written.
    current = public_jwk(pem)
    others = [k for k in published if k.get("kid") != current["kid"]]
    return KeyMaterial(pem, current["kid"], (current, *others))


class KeyStore:
    """The key state in use; file-backed keys are re-read when their files change."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[float, ...] | None = None
        self._material: KeyMaterial | None = None
        self._signer: tuple[KeyMaterial, TokenSigner] | None = None

    def _files_stamp(self) -> tuple[float, ...]:
        directory = Path(self.settings.keys_dir)
        stamps = []
        for name in (PRIVATE_KEY_FILE, JWKS_FILE, KEYRING_FILE):
            try:
                stamps.append(float((directory / name).stat().st_mtime_ns))
            except OSError:
                stamps.append(-1.0)
        return tuple(stamps)

    def material(self) -> KeyMaterial:
        """The current keys (loaded once; file-backed ones reloaded after a change)."""
        if self.settings.keys_configured:
            if self._material is None:
                self._material = _configured_material(self.settings)
            return self._material
        stamp = self._files_stamp()
        with self._lock:
            if self._material is None or stamp != self._stamp:
                self._material = _file_material(self.settings)
                self._stamp = stamp
            return self._material

    def jwks(self) -> dict[str, Any]:
        """The public keys, as published at /.well-known/jwks.json."""
        return {"keys": [dict(k) for k in self.material().published]}

    def signer(self) -> TokenSigner:
        """A signer with the current key (kept while the key is: making one parses the key)."""
        material = self.material()
        with self._lock:
            if self._signer is None or self._signer[0] is not material:
                signer = TokenSigner(
                    material.private_pem,
                    material.kid,
                    issuer=self.settings.auth_issuer,
                    audience=self.settings.auth_audience,
                )
                self._signer = (material, signer)
            return self._signer[1]

    def current_key_bits(self) -> int:
        """Size of the current signing key."""
        return rsa_key_bits(self.material().private_pem)
