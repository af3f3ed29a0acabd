"""Start-up safety: in production the gateway refuses default or weak secrets and keys."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.clients.secrets import is_weak_secret
from gateway.settings import (
    DEV_ADMIN_CLIENT_SECRET,
    DEV_INDICATORS_CLIENT_SECRET,
    DEV_RECORDS_CLIENT_SECRET,
    GatewaySettings,
)
from pilnveide_kit.signing import rsa_key_bits


class UnsafeConfiguration(RuntimeError):
    """The settings are not safe for the environment they run in."""


def configuration_problems(settings: GatewaySettings) -> list[str]:
    """Why these settings may not run in production (empty outside production)."""
    if not settings.is_production:
        return []
    problems = []
    for name, secret, default in (
        ("GATEWAY_ADMIN_CLIENT_SECRET", settings.admin_client_secret, DEV_ADMIN_CLIENT_SECRET),
        (
            "GATEWAY_INDICATORS_CLIENT_SECRET",
            settings.indicators_client_secret,
            DEV_INDICATORS_CLIENT_SECRET,
        ),
        (
            "GATEWAY_RECORDS_CLIENT_SECRET",
            settings.records_client_secret,
            DEV_RECORDS_CLIENT_SECRET,
        ),
    ):
        if secret is None:
            problems.append(f"{name} is not set (the development default is used)")
        elif secret.get_secret_value() == default:
            problems.append(f"{name} is the development default")
        elif is_weak_secret(secret.get_secret_value()):
            problems.append(f"{name} is weak (at least 24 varied characters)")
    if not settings.keys_configured:
        problems.append(
            "no signing key is configured (GATEWAY_SIGNING_KEY_PEM or GATEWAY_SIGNING_KEY_FILE); "
            "generated development keys are not used in production"
        )
    else:
        try:
            if settings.signing_key_pem is not None:
                pem = settings.signing_key_pem.get_secret_value()
            else:
                pem = Path(str(settings.signing_key_file)).read_text()
            bits = rsa_key_bits(pem)
            if bits < 2048:
                problems.append(f"the signing key has {bits} bits; at least 2048 are needed")
        except (OSError, ValueError, TypeError) as exc:
            problems.append(f"the signing key cannot be read: {type(exc).__name__}")
    if settings.previous_jwks_json:
        try:
            json.loads(settings.previous_jwks_json)["keys"]
        except (ValueError, KeyError, TypeError):
            problems.append("GATEWAY_PREVIOUS_JWKS_JSON is not a JWKS document")
    problems.extend(
        f"the identity provider {p.name!r} has an http issuer; its keys must come over https"
        for p in settings.oidc_providers
        if not p.issuer.startswith("https://")
    )
    return problems


def ensure_safe_to_start(settings: GatewaySettings) -> None:
    """Raise UnsafeConfiguration listing every problem, if there is any."""
    problems = configuration_problems(settings)
    if problems:
        raise UnsafeConfiguration(
            "The gateway refuses to start in production: " + "; ".join(problems)
        )
