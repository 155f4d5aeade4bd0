"""Quart's request, whose JSON body fails as a 400 in every way it can fail.

Quart answers malformed JSON with 400, but a body that is not UTF-8 raises
UnicodeDecodeError before parsing starts, and one nested deeper than the
parser follows (`[[[[...` 100,000 times) raises RecursionError: both would
be a 500 on every write operation. Here they are the caller's mistake.
"""

from __future__ import annotations

from typing import Any

from quart import Request

from host.errors import BadRequest


class JsonRequest(Request):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            return await super().get_json(force=force, silent=silent, cache=cache)
        except UnicodeDecodeError:
            if silent:
                return None
            raise BadRequest("the body is not UTF-8") from None
        except RecursionError:
            if silent:
                return None
            raise BadRequest("the JSON body is nested too deeply") from None
