"""The JSON error shape every response the host builds itself has, and its request id."""

from __future__ import annotations

import json
import re
import uuid

# A caller's own request id is kept when it is plain: visible ASCII, short.
# Anything else (control bytes, kilobytes of it) would travel into every
# log line and error body of the request, so it gets a fresh id instead.
_PLAIN_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def request_id_from(header: str | None) -> str:
    """The caller's `x-request-id` if it is 1-128 visible ASCII characters, else a fresh id."""
    if header is not None and _PLAIN_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def error_body(error: str, message: str, request_id: str | None = None) -> bytes:
    """`{"error", "message", "request_id"}` as sent, the one way every error is written."""
    document = {"error": error, "message": message}
    if request_id is not None:
        document["request_id"] = request_id
    return json.dumps(document).encode()
