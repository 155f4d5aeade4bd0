from host.processes._dealer import Dealer


def dealt(dealer: Dealer, count: int) -> list[int | None]:
    return [dealer.choose() for _ in range(count)]


def test_nothing_is_dealt_before_a_process_is_ready() -> None:
    dealer = Dealer()
    assert not dealer.any_ready
    assert dealer.choose() is None


def test_ready_processes_take_connections_in_turn() -> None:
    dealer = Dealer()
    for slot in (2, 0, 1):
        dealer.ready(slot)
    assert dealt(dealer, 6) == [0, 1, 2, 0, 1, 2]


def test_a_process_that_is_gone_is_skipped_and_its_replacement_rejoins_its_turn() -> None:
    dealer = Dealer()
    dealer.ready(0)
    dealer.ready(1)
    assert dealt(dealer, 1) == [0]
    dealer.gone(1)
    assert dealt(dealer, 2) == [0, 0]
    dealer.ready(1)
    assert dealt(dealer, 2) == [1, 0]
    dealer.gone(0)
    dealer.gone(1)
    assert not dealer.any_ready
    assert dealer.choose() is None


def test_a_process_that_refused_is_passed_over_for_that_connection_only() -> None:
    dealer = Dealer()
    dealer.ready(0)
    dealer.ready(1)
    assert dealer.choose(excluding={0}) == 1
    assert dealer.choose(excluding={0, 1}) is None
    assert dealt(dealer, 2) == [0, 1]
