"""aggregate: three backend calls in one batch, merged into one answer."""

from scripthost_sdk import BackendResponse, Request, Response, backend, json_response


def handle(req: Request) -> Response:
    answers = backend.batch([backend.request("slow", f"/{part}") for part in "abc"])
    return json_response(
        {"parts": [a.json() if isinstance(a, BackendResponse) else None for a in answers]}
    )
