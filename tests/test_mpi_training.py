"""Data-parallel training over MPI (tests/mpi/suite.py on 1, 2 and 4 ranks):
the same parameters as one process on the concatenated batch; the all-reduce
callback equal to an explicit all_reduce, sending during backward with
``loss.backward(communicator_callbacks=cb)`` alone (also with the hook passed
as well, and with a list of callbacks); and a dying rank ends the job."""
import pytest

from mpi.launch import assert_check, mpiexec

RANKS = [1, 2, 4]


@pytest.mark.parametrize("n", RANKS)
@pytest.mark.parametrize("name", ["data_parallel_equals_concatenated_batch",
                                  "callbacks_equal_explicit_all_reduce",
                                  "callback_sends_during_backward",
                                  "shared_parameters_with_callback"])
def test_training(name, n):
    assert_check(n, name)


@pytest.mark.parametrize("mode, words", [
    ("raise", "rank 1 raised an uncaught RuntimeError; aborting all 2 ranks"),
    ("exit", "rank 1 exited while rank 0 waits for it in all_reduce; aborting all 2 ranks"),
    ("kill", "signal 9"),  # mpiexec (Hydra) ends the job and says so on stdout
])
def test_a_dying_rank_ends_the_job_instead_of_hanging(mode, words):
    result = mpiexec("dying.py", 2, mode, timeout=60)  # a hang fails the test at 60 s
    assert result.returncode != 0
    assert words in result.stderr + result.stdout, result.stderr
    assert "finished all steps" not in result.stdout
    if mode == "raise":
        assert "RuntimeError: rank died on purpose" in result.stderr  # the traceback too
