"""Fixtures shared by the model tests; the helpers live in ``ksmtest`` (a module name of
its own, so test packages with their own conftest cannot shadow it)."""

import os

import pytest
from ksmtest import World, build_world

import ksmlab
from ksmlab import Kernel


@pytest.fixture
def world() -> World:
    return build_world()


@pytest.fixture
def kernel() -> Kernel:
    return Kernel()


def pytest_report_header(config):
    return f"ksmlab from {os.path.dirname(ksmlab.__file__)}"
