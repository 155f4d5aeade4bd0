"""The JSON error shape every non-script response uses."""

from __future__ import annotations

from quart import Response, jsonify


def json_error(status: int, error: str, message: str, request_id: str | None = None) -> Response:
    document: dict[str, str] = {"error": error, "message": message}
    if request_id is not None:
        document["request_id"] = request_id
    response = jsonify(document)
    response.status_code = status
    return response
