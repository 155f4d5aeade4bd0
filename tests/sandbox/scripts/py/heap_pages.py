"""Makes `?n=` new objects of each of a few sizes, held until it answers."""

from scripthost_sdk import Request, Response, json_response

SIZES = (24, 100, 200, 600)


def handle(req: Request) -> Response:
    count = int(req.params.get("n", "0"))
    held = [bytes(size) for size in SIZES for _ in range(count)]
    return json_response({"made": len(held)})
