"""Fixtures shared by test files (each file opts in; none is autouse here)."""
import pytest

import nablite as nn


@pytest.fixture
def fresh_parameters():
    """An empty global parameter registry before and after the test, so parameters
    one test creates cannot satisfy or disturb another's."""
    nn.clear_parameters()
    yield
    nn.clear_parameters()
