"""Saving files: killed saves leave the last good file, their temporaries go away
with the next save, and saved files get open()'s permissions and follow links."""
import os
import random
import signal
import stat
import time

import numpy as np
import pytest

import nablite as nn
import nablite.solvers as S
from nablite._atomic_file import atomic_write, temporaries

pytest.importorskip("h5py")
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _params(value, n=4, size=(128, 256)):
    """n parameters of ``size`` (about 0.5 MB in all), every entry ``value``."""
    return {f"layer{i}/W": nn.Variable.from_numpy_array(np.full(size, value, np.float32))
            for i in range(n)}


def _killed_while_saving(save, delay):
    """Fork a child that saves versions 1, 2, 3, ... with ``save(k)`` in a loop,
    reporting each finished save; kill -9 it ``delay`` seconds after it starts.
    Returns the last version the child reported as saved (0: none)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r)
            os.write(w, b"go\n")
            k = 1
            while True:
                save(k)
                os.write(w, b"%d\n" % k)
                k += 1
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 3)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)  # reaped: its pid no longer runs
    while True:
        chunk = os.read(r, 4096)
        if not chunk:
            break
        got += chunk
    os.close(r)
    done = got.split()[1:]
    return int(done[-1]) if done else 0


def _one_version(arrays):
    """The version number every array holds (a mix of versions would be a torn file)."""
    values = {float(v) for a in arrays for v in np.unique(a)}
    assert len(values) == 1, f"the file mixes versions {sorted(values)}"
    return values.pop()


TRIALS = 20  # kills of each kind of save


def test_kill_9_during_save_parameters_leaves_the_last_good_file(tmp_path):
    rng = random.Random(0)
    left = 0
    for trial in range(TRIALS):
        path = str(tmp_path / ("params.h5" if trial % 2 else "params.protobuf"))
        nn.save_parameters(path, _params(0.0))
        last = _killed_while_saving(lambda k: nn.save_parameters(path, _params(float(k))),
                                    rng.uniform(0.0, 0.06))
        nn.clear_parameters()
        nn.load_parameters(path)  # loadable, every time
        version = _one_version([p.d for p in nn.get_parameters(grad_only=False).values()])
        # the last save that finished (or the one the kill caught just after its rename)
        assert version in (last, last + 1), (version, last)
        left += bool(temporaries(path))
        nn.save_parameters(path, _params(-1.0))  # the next save removes what the kill left
        assert temporaries(path) == []
    nn.clear_parameters()
    # the kills did land inside saves (else the test would show nothing)
    assert left >= 1, f"none of {TRIALS} kills interrupted a save"


def test_kill_9_during_save_states_leaves_the_last_good_file(tmp_path):
    rng = random.Random(1)
    params = _params(1.0)
    for p in params.values():
        p.need_grad = True
        p.g = 0
    solver = S.Adam()
    solver.set_parameters(params)

    def save(k):
        for st in solver.get_states().values():
            for v in st.pstate.values():
                v.d = k
        solver.save_states(path)

    left = 0
    for trial in range(TRIALS):
        path = str(tmp_path / ("states.h5" if trial % 2 else "states.protobuf"))
        save(0.0)
        last = _killed_while_saving(save, rng.uniform(0.0, 0.06))
        solver.load_states(path)
        version = _one_version([v.d for st in solver.get_states().values()
                                for v in st.pstate.values()])
        assert version in (last, last + 1), (version, last)
        left += bool(temporaries(path))
        save(-1.0)
        assert temporaries(path) == []
    assert left >= 1, f"none of {TRIALS} kills interrupted a save"


def test_a_save_in_progress_elsewhere_keeps_its_temporary(tmp_path):
    path = str(tmp_path / "p.h5")
    mine = tmp_path / f".p.h5.{os.getpid()}.abc.tmp"  # this process runs: "in progress"
    dead = tmp_path / ".p.h5.999999999.abc.tmp"  # no such process
    mine.write_bytes(b"")
    dead.write_bytes(b"")
    atomic_write(path, lambda tmp: open(tmp, "wb").write(b"x"))
    assert mine.exists() and not dead.exists()


def test_saved_files_get_open_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = str(tmp_path / "p.h5")
        nn.save_parameters(path, _params(1.0, n=1, size=(2,)))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
        os.chmod(path, 0o600)  # an existing file keeps its mode, as open() keeps it
        nn.save_parameters(path, _params(2.0, n=1, size=(2,)))
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        os.umask(0o077)
        other = str(tmp_path / "q.protobuf")
        nn.save_parameters(other, _params(1.0, n=1, size=(2,)))
        assert stat.S_IMODE(os.stat(other).st_mode) == 0o600
    finally:
        os.umask(old)


def test_saving_onto_a_symlink_writes_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "p.h5"
    link = tmp_path / "link.h5"
    link.symlink_to(target)
    nn.save_parameters(str(link), _params(3.0, n=1, size=(2,)))
    assert link.is_symlink() and target.exists()
    nn.clear_parameters()
    nn.load_parameters(str(target))
    np.testing.assert_array_equal(nn.get_parameters(grad_only=False)["layer0/W"].d, 3)
    nn.clear_parameters()
    assert temporaries(str(link)) == [] and list((tmp_path / "real").iterdir()) == [target]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def failing(tmp):
        open(tmp, "wb").write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(str(path), failing)
    assert path.read_bytes() == b"old" and temporaries(str(path)) == []
