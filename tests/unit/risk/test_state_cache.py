"""The agents' cache of decoded states: used only while the table holds the same bytes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from riskseal.risk.agents import StateCache
from riskseal.risk.state import UserState


def test_nothing_stored_is_no_state() -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes)
    assert cache.load(b"alice", None) is None


def test_a_kept_state_comes_back_while_the_bytes_are_the_same() -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes)
    state = UserState("alice", events=3)
    data = state.to_bytes()
    cache.keep(b"alice", data, state)
    assert cache.load(b"alice", data) is state
    assert cache.load(b"alice", bytes(bytearray(data))) is state  # equal, not identical


def test_other_bytes_are_decoded_not_taken_from_the_cache() -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes)
    state = UserState("alice", events=3)
    cache.keep(b"alice", state.to_bytes(), state)
    newer = UserState("alice", events=4).to_bytes()  # say, recovered from the changelog
    loaded = cache.load(b"alice", newer)
    assert loaded is not state
    assert loaded == UserState("alice", events=4)


def test_a_dropped_state_is_decoded_again() -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes)
    state = UserState("alice")
    data = state.to_bytes()
    cache.keep(b"alice", data, state)
    state.events = 99  # half updated by a failing engine step
    cache.drop(b"alice")
    assert cache.load(b"alice", data) == UserState("alice")


def test_the_least_recently_used_state_is_evicted_first() -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes, size=2)
    states = {name: UserState(name) for name in ("a", "b", "c")}
    data = {name: state.to_bytes() for name, state in states.items()}
    cache.keep(b"a", data["a"], states["a"])
    cache.keep(b"b", data["b"], states["b"])
    assert cache.load(b"a", data["a"]) is states["a"]  # a is now the most recent
    cache.keep(b"c", data["c"], states["c"])
    assert cache.load(b"a", data["a"]) is states["a"]
    assert cache.load(b"c", data["c"]) is states["c"]
    assert cache.load(b"b", data["b"]) is not states["b"]


@given(st.lists(st.tuples(st.sampled_from("abcde"), st.integers(0, 3)), max_size=40))
def test_load_always_equals_decoding_the_current_bytes(writes: list[tuple[str, int]]) -> None:
    cache: StateCache[UserState] = StateCache(UserState.from_bytes, size=3)
    table: dict[bytes, bytes] = {}
    for name, events in writes:
        key = name.encode()
        state = UserState(name, events=events)
        table[key] = state.to_bytes()
        if events % 2:  # only some writes go through the cache
            cache.keep(key, table[key], state)
        for other, data in table.items():
            assert cache.load(other, data) == UserState.from_bytes(data)
