"""Fixtures shared by the model tests; the helpers live in ``ksmtest`` (a module name of
its own, so test packages with their own conftest cannot shadow it)."""

import os

import pytest
from ksmtest import World, build_world, live_unavailable

import ksmlab
import ksmlab.live
from ksmlab import Kernel
from ksmlab.live.driver import child_pids
from ksmlab.live.guard import KSM_DIR, read_knobs

#: counters that read 0 whenever no live run is going on
LIVE_IDLE = ("pages_shared", "pages_sharing", "pages_unshared", "pages_volatile")


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def kernel() -> Kernel:
    return Kernel()


def pytest_report_header(config):
    return f"ksmlab from {os.path.dirname(ksmlab.__file__)}"


@pytest.fixture
def live():
    """Skip (or, under KSMLAB_REQUIRE_LIVE=1, fail) without a usable KSM; afterwards,
    every knob reads as before, no child process is left and KSM holds nothing."""
    reason = ksmlab.live.availability()  # looked up now: a test may stand in for it
    if reason:
        live_unavailable(reason)
    before = read_knobs()
    yield
    assert read_knobs() == before
    assert child_pids() == []
    idle = {}
    for name in LIVE_IDLE:
        with open(os.path.join(KSM_DIR, name)) as f:
            idle[name] = int(f.read())
    assert idle == dict.fromkeys(LIVE_IDLE, 0)
