"""Who is calling, and whether they may touch a namespace."""

from __future__ import annotations

from quart import g, request

from host.auth import Principal, bearer_token
from host.errors import Forbidden, Unauthorized
from host.state import host_state


def principal() -> Principal:
    """The caller, authenticated once per request; 401 without a valid bearer token."""
    found: Principal | None = g.get("principal")
    if found is not None:
        return found
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise Unauthorized("send a bearer token: Authorization: Bearer TOKEN")
    found = host_state().tokens.authenticate(token)
    if found is None:
        raise Unauthorized("the token is not valid")
    g.principal = found
    g.actor = found.name
    return found


def principal_for(namespace: str) -> Principal:
    caller = principal()
    if not caller.may_touch(namespace):
        raise Forbidden(f"{caller.name} may not change namespace {namespace!r}")
    return caller


def admin_principal() -> Principal:
    caller = principal()
    if not caller.admin:
        raise Forbidden("only admins may do this")
    return caller
