import sys
from collections.abc import Iterator

import pytest
from scripthost_sdk._stdio import MAX_LINE_CHARS, LogStream, flush_log_streams, redirect_to_log
from scripthost_sdk.testing import FakeHost, LogLine


def test_each_complete_line_is_one_log_line(host: FakeHost) -> None:
    stream = LogStream("stdout")
    stream.write("one\ntwo")
    assert host.logs == [LogLine("info", "one", {"stream": "stdout"})]
    stream.write(" halves\n")
    assert host.logs[-1].message == "two halves"


def test_stderr_logs_at_error_and_flush_sends_the_rest(host: FakeHost) -> None:
    stream = LogStream("stderr")
    stream.write("partial")
    stream.flush()
    stream.flush()
    assert host.logs == [LogLine("error", "partial", {"stream": "stderr"})]


def test_an_endless_line_is_sent_in_pieces(host: FakeHost) -> None:
    stream = LogStream("stdout")
    stream.write("x" * (MAX_LINE_CHARS * 2 + 1))
    assert [len(line.message) for line in host.logs] == [MAX_LINE_CHARS, MAX_LINE_CHARS]
    stream.close()
    assert [len(line.message) for line in host.logs] == [MAX_LINE_CHARS, MAX_LINE_CHARS, 1]


@pytest.fixture
def restore_stdio() -> Iterator[None]:
    saved = sys.stdout, sys.stderr
    yield
    sys.stdout, sys.stderr = saved


@pytest.mark.usefixtures("restore_stdio")
def test_print_goes_to_the_log(host: FakeHost) -> None:
    redirect_to_log()
    print("hello", 42)
    print("oops", file=sys.stderr, end="")
    flush_log_streams()
    assert host.logs == [
        LogLine("info", "hello 42", {"stream": "stdout"}),
        LogLine("error", "oops", {"stream": "stderr"}),
    ]
