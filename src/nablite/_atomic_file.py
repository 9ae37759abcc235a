"""Atomic file writes: a crash or kill leaves either the old file or the new one.

The new content goes to a temporary file next to the target, named
``.<name>.<pid>.<random>.tmp``, which is then renamed onto the target. What a
killed save leaves behind is removed by the next save to the same path (only
files of processes that no longer run, so a concurrent save is left alone).
The file gets the permissions ``open()`` would give it: the old file's, or
0666 less the umask for a new one; a symbolic link is followed, so its target
is written and the link stays.
"""
import os
import re
import stat
import tempfile


def atomic_write(path, write):
    """Run ``write(tmp_path)``, flush the result to disk and rename it onto ``path``."""
    path = os.path.realpath(os.fspath(path))  # a link's target, as open() writes it
    folder, name = os.path.split(path)
    _remove_stale_temporaries(folder, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(path))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable; not possible on every platform
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def temporaries(path):
    """The temporary files that saves to ``path`` left in its folder (for tests and tools)."""
    path = os.path.realpath(os.fspath(path))
    folder, name = os.path.split(path)
    return [os.path.join(folder, f) for f, _ in _temporaries(folder, name)]


def _temporaries(folder, name):
    pattern = re.compile(re.escape(f".{name}.") + r"(\d+)\.[^.]+\.tmp\Z")
    try:
        entries = os.listdir(folder)
    except OSError:
        return []
    return [(f, int(m.group(1))) for f in entries for m in [pattern.match(f)] if m]


def _remove_stale_temporaries(folder, name):
    for f, pid in _temporaries(folder, name):
        if _running(pid):
            continue  # a save in progress (this process's, or another's)
        try:
            os.remove(os.path.join(folder, f))
        except OSError:
            pass


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's) or cannot tell: leave its file
    return True


def _mode_for(path):
    """The old file's permission bits, else 0666 less the umask (as open() creates)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask():
    try:  # Linux states it without changing it (os.umask would race with threads)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
