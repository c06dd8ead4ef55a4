"""Fixtures shared by every study's tests."""

from __future__ import annotations

from collections import Counter

import pytest
from realdata_files import REALDATA, require_realdata

# ------------------------------------------------------------------------------------------------
# real agency sample files (tests/realdata_files.py): the ``realdata`` marker and fixture


@pytest.fixture(scope="session")
def realdata():
    """The real-data directory ``../shared/realdata`` (a test using it is a real-data test)."""
    return require_realdata()


#: outcome of each real-data test by node id ("passed", "skipped" or "failed"; None until reported)
_REALDATA_OUTCOMES: dict[str, str | None] = {}


def pytest_collection_modifyitems(config, items):
    # a test that uses the realdata fixture, directly or through another fixture, is a real-data test
    for item in items:
        if "realdata" in getattr(item, "fixturenames", ()) and item.get_closest_marker("realdata") is None:
            item.add_marker(pytest.mark.realdata)
        if item.get_closest_marker("realdata") is not None:
            _REALDATA_OUTCOMES[item.nodeid] = None


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # before any fixture: skip (fail under CI) without the directory, fail on a missing named file
    for marker in item.iter_markers("realdata"):
        require_realdata(*marker.args)


def pytest_runtest_logreport(report):
    if report.nodeid not in _REALDATA_OUTCOMES or _REALDATA_OUTCOMES[report.nodeid] == "failed":
        return
    if report.failed:
        _REALDATA_OUTCOMES[report.nodeid] = "failed"
    elif report.skipped:
        _REALDATA_OUTCOMES[report.nodeid] = "skipped"
    elif report.when == "call":
        _REALDATA_OUTCOMES[report.nodeid] = "passed"


def pytest_terminal_summary(terminalreporter):
    n = Counter(_REALDATA_OUTCOMES.values())
    terminalreporter.write_line(
        f"real-data tests: {n['passed']} passed, {n['skipped']} skipped, {n['failed']} failed"
        f" (files from {REALDATA})"
    )


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny nets: one intra-op thread is much faster than several (and deterministic either way).

    Use with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
