"""`startup.long_lived`: what a start builds is frozen out of the collector's sight, and the
collector runs again afterwards, whether the start worked or not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mockyard import startup


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test process is collected as before
    gc.enable()


def test_what_a_start_builds_is_frozen() -> None:
    before = gc.get_freeze_count()
    with startup.long_lived():
        assert not gc.isenabled()  # no collection walks the half-built spec
        built = [[n] for n in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(built)


def test_a_start_that_fails_turns_the_collector_back_on() -> None:
    with pytest.raises(RuntimeError), startup.long_lived():
        raise RuntimeError("the workspace is broken")
    assert gc.isenabled()
