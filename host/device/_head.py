"""What the device path reads of a request's head: one pass over the scope's headers."""

from __future__ import annotations

from dataclasses import dataclass, field

from host.device._asgi import HTTPScope, WWWScope

# Scripts see the address the connection came from under this name, set by
# the host; a header of that name sent by the client is dropped.
CLIENT_ADDRESS_HEADER = "remote-addr"
# Headers that describe one hop, not the request: never passed to scripts.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"authorization",
        CLIENT_ADDRESS_HEADER.encode(),
    }
)


@dataclass(slots=True)
class RequestHead:
    """The headers the host itself acts on, and those a script sees."""

    request_id: str | None = None
    content_length: bytes | None = None
    transfer_encoding: bool = False
    content_type: bytes = b""
    # In the order sent, names in lower case, less hop-by-hop ones.
    forwarded: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def read(cls, scope: WWWScope) -> RequestHead:
        head = cls()
        forwarded = head.forwarded
        for raw_name, raw_value in scope["headers"]:
            name = bytes(raw_name).lower()
            value = bytes(raw_value)
            if name == b"x-request-id":
                if head.request_id is None:
                    head.request_id = value.decode("latin-1")
            elif name == b"content-length":
                head.content_length = value
            elif name == b"transfer-encoding":
                head.transfer_encoding = True
            elif name == b"content-type":
                head.content_type = value
            if name not in _HOP_BY_HOP:
                forwarded.append((name.decode("latin-1"), value.decode("latin-1")))
        return head

    def declared_length(self) -> int | None:
        """The Content-Length as a number, or None when absent or not a plain number."""
        if self.content_length is None or not self.content_length.isdigit():
            return None
        return int(self.content_length)


def client_address(scope: HTTPScope) -> str:
    """The peer of the connection, from the server (the ASGI scope), never from a header."""
    client = scope.get("client")
    return str(client[0]) if client else ""
