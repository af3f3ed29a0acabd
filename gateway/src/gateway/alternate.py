"""The xAPI alternate request syntax (xAPI 1.0.3, Communication 1.3) at the gateway.

A client that cannot set headers POSTs `/xapi/...?method=PUT` with a url-encoded form whose
fields stand for the headers, Authorization included. The gateway checks the credentials of
that form field as it checks an Authorization header, and forwards the form without the field:
the LRS reads the form's Authorization before the header, so the client's secret must not reach
it and the gateway's bearer token (sent in the header) must be the one the LRS sees.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from fastapi import Request
from starlette.types import Message

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


def is_alternate(request: Request) -> bool:
    """A POST with `method` in the query and a url-encoded form body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return (
        request.method == "POST"
        and "method" in request.query_params
        and media_type == FORM_MEDIA_TYPE
    )


def split_authorization(body: bytes) -> tuple[str | None, bytes]:
    """The form's Authorization field (the last one, as the LRS reads it) and the form without
    any Authorization field, every other field byte for byte as received."""
    authorization: str | None = None
    kept: list[bytes] = []
    for field in body.split(b"&"):
        name, _, value = field.partition(b"=")
        try:
            decoded_name = unquote_plus(name.decode("utf-8"), errors="strict")
            decoded_value = unquote_plus(value.decode("utf-8"), errors="strict")
        except UnicodeDecodeError:
            kept.append(field)  # not a form the LRS accepts either; it answers 400
            continue
        if decoded_name.lower() == "authorization":
            authorization = decoded_value
        else:
            kept.append(field)
    return authorization, b"&".join(kept)


async def with_form_credentials(request: Request) -> Request:
    """The request as the gateway should check and forward it: for an alternate-syntax request
    whose form carries Authorization, that value as the Authorization header and the form
    without it; any other request unchanged."""
    if not is_alternate(request):
        return request
    body = await request.body()
    authorization, form = split_authorization(body)
    if authorization is None:
        return request
    headers = [
        (k, v)
        for k, v in request.scope["headers"]
        if k.lower() not in (b"authorization", b"content-length")
    ]
    headers += [
        (b"authorization", authorization.encode("latin-1", errors="replace")),
        (b"content-length", str(len(form)).encode()),
    ]
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": form, "more_body": False}

    # A shallow copy: the same app and the same state (the audit log reads the caller there).
    request.scope.setdefault("state", {})
    return Request({**request.scope, "headers": headers}, receive)
