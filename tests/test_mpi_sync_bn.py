"""Synchronized batch normalization over MPI (tests/mpi/suite.py on 1, 2 and 4
ranks) against batch normalization of the concatenated batch: outputs, the
input's gradient, running statistics, beta/gamma gradients that stay local,
a group smaller than the world, and training with PF.sync_batch_normalization."""
import numpy as np
import pytest

import nablite as nn
from nablite.functions.distributed import sync_batch_normalization
from mpi.launch import assert_check

RANKS = [1, 2, 4]


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("name", ["sync_bn_function", "sync_bn_in_a_group",
                                  "sync_bn_training_equals_concatenated_batch"])
def test_sync_batch_normalization(name, n):
    assert_check(n, name)


class _FakeComm:
    def __init__(self, size):
        self.size = size


@pytest.mark.parametrize("comm, exc, match", [
    (_FakeComm(2), NotImplementedError, r"comm has size 2, but a _FakeComm has no all_reduce"),
    (_FakeComm(0), ValueError, r"comm has size 0"),
    (object(), TypeError, r"comm must be None or a communicator with an integer size"),
])
def test_bad_communicators(comm, exc, match):
    x = nn.Variable.from_numpy_array(np.ones((4, 3), np.float32))
    with pytest.raises(exc, match="F.sync_batch_normalization: " + match):
        sync_batch_normalization(x, None, None, None, None, comm)
