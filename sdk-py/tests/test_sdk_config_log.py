import pytest
from scripthost_sdk import config, log
from scripthost_sdk._abi import NoHostError
from scripthost_sdk.testing import FakeHost, LogLine


def test_config_get_with_and_without_default(host: FakeHost) -> None:
    assert config.get("greeting") == "Hello"
    assert config.get("missing") is None
    assert config.get("missing", "Hi") == "Hi"
    assert config.all() == {"greeting": "Hello"}


def test_log_fields_are_strings_or_json(host: FakeHost) -> None:
    log.info("home rendered", user="42", rows=2, degraded=False, tags=["a"], none=None)
    log.warn("careful")
    assert host.logs == [
        LogLine(
            "info",
            "home rendered",
            {"user": "42", "rows": "2", "degraded": "false", "tags": '["a"]', "none": "null"},
        ),
        LogLine("warn", "careful", {}),
    ]


def test_a_field_may_be_called_message(host: FakeHost) -> None:
    log.error("failed", message="x", level="y")
    assert host.logs[0].fields == {"message": "x", "level": "y"}


def test_without_a_host_the_error_says_what_to_do() -> None:
    with pytest.raises(NoHostError, match="FakeHost"):
        config.get("greeting")
