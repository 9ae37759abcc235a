"""Scripts that tests/test_mpi_*.py run under ``mpiexec``, and the launcher."""
