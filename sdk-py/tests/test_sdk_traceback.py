from scripthost_sdk._traceback import display_name, format_exception, truncate


def raise_chained() -> None:
    try:
        empty: dict[str, int] = {}
        empty["key"]
    except KeyError as exc:
        raise RuntimeError("wrapped") from exc


def raise_during_handling() -> None:
    try:
        raise KeyError("first")
    except KeyError:
        raise ValueError("second")  # noqa: B904


def caught(function: object) -> BaseException:
    try:
        function()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


def test_direct_cause_is_shown_oldest_first() -> None:
    message = format_exception(caught(raise_chained))
    first, second = message.split(
        "\n\nThe above exception was the direct cause of the following exception:\n\n"
    )
    assert first.endswith("KeyError: 'key'")
    assert second.endswith("RuntimeError: wrapped")


def test_context_is_shown_when_not_suppressed() -> None:
    message = format_exception(caught(raise_during_handling))
    assert "During handling of the above exception, another exception occurred:" in message
    assert message.endswith("ValueError: second")


def test_component_mount_prefix_is_dropped() -> None:
    assert display_name("/1/home.py") == "home.py"
    assert display_name("/python/lib/python3.14/json/decoder.py").startswith("/python/")


def test_truncate_keeps_the_end() -> None:
    text = "Traceback (most recent call last):\n" + "x" * 10_000 + "\nValueError: end"
    short = truncate(text, limit=200)
    assert len(short) == 200
    assert short.endswith("ValueError: end")
