"""Settings from NNabla's configuration files (``nnabla.config``).

``nnabla_config`` is a ``configparser.RawConfigParser`` holding NNabla's
defaults, overridden by whichever of these exist, read in this order (later
ones win): ``/etc/nnabla.conf``, ``~/.nnabla``, ``./nnabla.conf`` (the working
folder when nablite is imported) and the file ``$NNABLA_CONFIG_FILE_PATH``
names. So a machine set up for NNabla keeps its settings::

    [DATA_ITERATOR]
    data_source_file_cache_location = /scratch/cache
    data_source_file_cache_size = 500

nablite's data layer reads the ``DATA_ITERATOR`` section: the chunk format
(``cache_file_format``), samples per chunk (``data_source_file_cache_size``),
threads that write and read chunks (``data_source_file_cache_num_of_threads``,
``cache_file_cache_num_of_threads``), where temporary caches go
(``data_source_file_cache_location``, empty: the system's temporary folder) and
the largest source kept in memory (``data_source_buffer_max_size``, bytes).
Other sections are kept for scripts that read them (``nnabla_config.get(
section, key)``).
"""
import configparser
import os

__all__ = ["nnabla_config"]

# NNabla 1.39's defaults (its nnabla.conf), section -> key -> value
DEFAULTS = {
    "DATA_ITERATOR": {
        "cache_file_format": ".npy",
        "data_source_file_cache_num_of_threads": "10",
        "cache_file_cache_num_of_threads": "4",
        "data_source_file_cache_size": "100",
        "data_source_file_cache_location": "",
        "data_source_buffer_max_size": "1073741824",
    },
    "LOG": {
        "log_file_name": "",
        "log_file_level": "DEBUG",
        "log_file_format": "%(asctime)s [%(name)s][%(levelname)s]: %(pathname)s : "
                           "%(funcName)s : %(lineno)s : %(message)s",
        "log_console_level": "INFO",
        "log_console_format": "%(asctime)s [%(name)s][%(levelname)s]: %(message)s",
    },
    "MISC": {"misc_show_progress": "True", "nnp_param_format": ".h5"},
    "CALLBACK": {"util_callback_module": ""},
    "CHECKPOINT": {"optimizer_interval": "5"},
    "MULTINODE": {
        "analyse_gpu_status_interval": "20",
        "gpu_slowing_warning_threshold": "2",
        "gpu_slowing_error_threshold": "10",
    },
}


def config_files():
    """The files read over the defaults, in order (those that exist are read)."""
    files = ["/etc/nnabla.conf", os.path.join(os.path.expanduser("~"), ".nnabla"),
             os.path.join(os.getcwd(), "nnabla.conf")]
    if os.environ.get("NNABLA_CONFIG_FILE_PATH"):
        files.append(os.environ["NNABLA_CONFIG_FILE_PATH"])
    return files


def read_config(files=None):
    """A RawConfigParser of the defaults with ``files`` (default
    ``config_files()``) read over them."""
    config = configparser.RawConfigParser()
    config.read_dict(DEFAULTS)
    for path in config_files() if files is None else files:
        if os.path.isfile(path):
            try:
                config.read(path)
            except configparser.Error as e:
                raise ValueError(f"nablite.config: {path} is not a configuration file "
                                 f"NNabla reads: {str(e).splitlines()[0]}") from None
    return config


def get_int(section, key):
    """``nnabla_config``'s value as an int, or a clear error naming the setting."""
    value = nnabla_config.get(section, key)
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"nablite.config: [{section}] {key} = {value!r} must be an "
                         "integer") from None


nnabla_config = read_config()
