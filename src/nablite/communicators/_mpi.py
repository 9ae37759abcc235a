"""mpi4py, imported on first use, and the watch that keeps a job from hanging
when one of its ranks dies.

Plain mpi4py hangs a job in two common cases: a rank raises an uncaught
exception (it prints the traceback, then waits in ``MPI_Finalize`` while
the others wait for it in a collective), and a rank calls ``sys.exit(n)``
mid-training (the same, without the traceback). ``Watch`` closes both:

- its ``sys.excepthook`` prints the traceback and aborts the whole job;
- at exit a rank tells every other rank that it has left, and how many
  collectives of each group it completed, and waits for their word before MPI
  finalizes. A rank waiting in a collective that a member who has left never
  completed aborts the job with a message naming both ranks, instead of
  waiting forever. (A member that did complete it may leave first: a
  non-blocking collective can complete on one rank before another.)
"""
import atexit
import os
import sys
import time

_EXIT_TAG = 7317
_SPINS_BEFORE_SLEEP = 2000  # busy-poll short waits; sleep between polls in long ones
_FORWARD_SECONDS = 0.5  # how long an aborting rank leaves mpiexec to forward its output
_watch = None


def mpi():
    """The ``mpi4py.MPI`` module, or an ImportError that says how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(
            "nablite.communicators needs mpi4py and an MPI library; "
            'pip install "nablite[dist]" installs both (mpi4py and mpich, with mpiexec)') from e
    return MPI


def watch():
    """The process's one Watch, installed on first use."""
    global _watch
    if _watch is None:
        _watch = Watch(mpi())
        _watch.install()
    return _watch


class Watch:
    """Which ranks of COMM_WORLD have left, and waiting that notices them."""

    def __init__(self, MPI):
        self.MPI = MPI
        self.world = MPI.COMM_WORLD
        self.rank, self.size = self.world.Get_rank(), self.world.Get_size()
        self._notices = self.world.Dup()  # exit notices never meet a user's messages
        self._status = MPI.Status()
        self.completed = {}  # group name -> collectives this rank has completed in it
        self.left = {}       # rank -> its ``completed`` when it left
        self.communicators = 0

    def register(self):
        """A number for a new communicator; it names its groups' counts, the
        same on every rank as long as the ranks create communicators alike."""
        self.communicators += 1
        return self.communicators

    def install(self):
        """Abort on uncaught exceptions; announce this rank's exit to the others."""
        previous = sys.excepthook

        def excepthook(kind, value, tb):
            previous(kind, value, tb)
            self.abort(f"rank {self.rank} raised an uncaught {kind.__name__}")

        sys.excepthook = excepthook
        atexit.register(self._leave)  # runs before mpi4py's own MPI_Finalize (LIFO)

    def abort(self, why, code=1):
        sys.stdout.flush()
        # one write, so that the lines of ranks aborting together do not mix
        sys.stderr.write(f"nablite.communicators: {why}; aborting all {self.size} ranks\n")
        sys.stderr.flush()
        # mpiexec forwards a rank's output through a proxy, and Abort kills the
        # ranks at once: output not yet forwarded (this message, the traceback)
        # would be lost. A moment on the way out lets it through.
        time.sleep(_FORWARD_SECONDS)
        self.world.Abort(code)
        os._exit(code)  # Abort returns only when the launcher is gone already

    def wait(self, request, group, ranks, what):
        """Complete ``request``, the next collective of ``group`` (among the
        world ranks ``ranks``); abort if a rank of it has left without it."""
        seq = self.completed.get(group, 0) + 1
        spins = 0
        while not request.Test():
            self._hear()
            gone = [r for r in ranks if r in self.left and self.left[r].get(group, 0) < seq]
            if gone:
                self.abort(f"rank {', '.join(map(str, gone))} exited while rank "
                           f"{self.rank} waits for it in {what}")
            spins += 1
            if spins > _SPINS_BEFORE_SLEEP:
                time.sleep(5e-5)
        self.completed[group] = seq

    def _hear(self):
        while self._notices.Iprobe(source=self.MPI.ANY_SOURCE, tag=_EXIT_TAG,
                                   status=self._status):
            src = self._status.Get_source()
            self.left[src] = self._notices.recv(source=src, tag=_EXIT_TAG)

    def _leave(self):
        if self.size == 1 or self.MPI.Is_finalized():
            return
        sends = [self._notices.isend(dict(self.completed), dest=r, tag=_EXIT_TAG)
                 for r in range(self.size) if r != self.rank]
        # A rank still working will come here too; one stuck waiting for this
        # rank hears the notice and aborts the job, which ends this wait as well.
        spins = 0
        while len(self.left) < self.size - 1:
            self._hear()
            spins += 1
            if spins > _SPINS_BEFORE_SLEEP:
                time.sleep(1e-3)
        self.MPI.Request.Waitall(sends)
