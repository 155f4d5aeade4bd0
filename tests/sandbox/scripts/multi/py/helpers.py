"""Helpers in a module of their own."""

TABLE = {"one": 1}


def look_up(key: str) -> int:
    return TABLE[key]


def count() -> int:
    return len(TABLE)
