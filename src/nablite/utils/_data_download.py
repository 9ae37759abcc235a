"""Downloads into the local data home, which works offline once a file is there.

``download(url)`` keeps the file as ``get_data_home()/<last part of the URL>``
(NNabla's ``~/nnabla_data``; ``NABLITE_DATA_HOME`` moves it). A file already
there is used without touching the network, so a user without a connection
places the file in the data home and runs the same script. When the network
cannot be reached the error comes within ``NABLITE_DOWNLOAD_TIMEOUT`` seconds
(default 10, name resolution included) and names the URL and the path to place the file at.
"""
import http.client
import os
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request

from .._atomic_file import atomic_write
from ..logger import logger, progress_bar

__all__ = ["download", "get_data_home", "DATA_HOME_ENV"]

DATA_HOME_ENV = "NABLITE_DATA_HOME"
_CHUNK = 1 << 20


class DownloadError(urllib.error.URLError, ConnectionError):
    """A file that cannot be fetched: a ``urllib.error.URLError`` as NNabla's
    download raises (scripts catch that), and a ConnectionError; its text says
    where to place the file by hand."""

    def __str__(self):
        return str(self.reason)


def get_data_home():
    """The folder where :func:`download` keeps files (created if missing):
    ``$NABLITE_DATA_HOME`` if set, else NNabla's ``~/nnabla_data``
    (``./nnabla_data`` when there is no home directory)."""
    d = os.environ.get(DATA_HOME_ENV) or os.path.expanduser("~/nnabla_data")
    if d == "/nnabla_data":  # no usable home directory: stay local, as NNabla
        d = "./nnabla_data"
    os.makedirs(d, exist_ok=True)
    return d


def _timeout():
    try:
        return float(os.environ.get("NABLITE_DOWNLOAD_TIMEOUT", "10"))
    except ValueError:
        return 10.0


def urlopen_with_deadline(url, timeout):
    """``urlopen(url)`` that gives up after ``timeout`` seconds in all, name
    resolution included (which a socket timeout does not bound)."""
    result = {}

    def run():
        try:
            result["response"] = urllib.request.urlopen(url, timeout=timeout)
        except BaseException as e:  # handed to the caller
            result["error"] = e
    worker = threading.Thread(target=run, daemon=True, name="nablite-urlopen")
    worker.start()
    worker.join(timeout + 1.0)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if "error" in result:
        raise result["error"]
    return result["response"]


def _fetch(url, cache):
    """Stream ``url`` into ``cache`` (atomically, with a progress bar)."""
    scheme = urllib.parse.urlparse(url).scheme.lower()
    name = os.path.basename(cache)
    if scheme == "file":
        src = urllib.request.url2pathname(urllib.parse.urlparse(url).path)
        if not os.path.isfile(src):
            raise FileNotFoundError(f"download: {url} names {src!r}, which does "
                                    "not exist")
        atomic_write(cache, lambda tmp: shutil.copyfile(src, tmp))
        return
    if scheme not in ("http", "https"):
        raise ValueError(f"download: url must start with http://, https:// or "
                         f"file://, got {url!r}")
    try:
        response = urlopen_with_deadline(url, _timeout())
    except (urllib.error.URLError, OSError) as e:
        reason = f"HTTP {e.code} {e.reason}" if isinstance(e, urllib.error.HTTPError) \
            else getattr(e, "reason", e)
        raise DownloadError(
            f"download: cannot fetch {url} ({reason}). Without a network, "
            f"place the file at {cache} (the data home is set by "
            f"{DATA_HOME_ENV}) and run again.") from None

    def write(tmp):
        total = int(response.headers.get("Content-Length") or 0)
        with response, open(tmp, "wb") as f, \
                progress_bar(None, desc=name, unit="B", total=total or None,
                             unit_scale=True, unit_divisor=1024) as bar:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except (OSError, http.client.HTTPException) as e:
                    raise DownloadError(
                        f"download: the connection to {url} broke ({e}); "
                        f"place the file at {cache} and run again") from None
                if not chunk:
                    break
                f.write(chunk)
                bar.update(len(chunk))
        if total and os.path.getsize(tmp) != total:
            raise DownloadError(
                f"download: {url} ended after {os.path.getsize(tmp)} of "
                f"{total} bytes; nothing was written to {cache}")
    atomic_write(cache, write)


def download(url, output_file=None, open_file=True, allow_overwrite=False):
    """Fetch ``url`` into the data home (or ``output_file``) unless it is
    there already.

    Args:
        url (str): ``http://``, ``https://`` or ``file://`` URL.
        output_file (str, optional): Where to keep the file; default
            ``get_data_home()/<last part of the URL>``.
        open_file (bool): Return the kept file opened for binary reading.
        allow_overwrite (bool): Fetch again even if the file exists.

    Returns:
        The opened file if ``open_file``, else None.

    Raises:
        DownloadError: The server cannot be reached (a urllib.error.URLError
            and a ConnectionError; the message names the
            path to place the file at by hand).
    """
    if not isinstance(url, str):
        raise TypeError(f"download: url must be a str, got {type(url).__name__}")
    name = url.rstrip("/").split("/")[-1].split("?")[0]
    cache = output_file if output_file is not None else \
        os.path.join(get_data_home(), name)
    cache = os.fspath(cache)
    if os.path.exists(cache) and not allow_overwrite:
        logger.info("download: using %s, already there (delete it to fetch "
                    "%s again)", cache, url)
    else:
        folder = os.path.dirname(os.path.abspath(cache))
        os.makedirs(folder, exist_ok=True)
        _fetch(url, cache)
    if open_file:
        return open(cache, "rb")
    return None
