"""nablite.config (nnabla.config): NNabla's defaults, its configuration files
read over them in NNabla's order, and the data layer's settings taken from them."""
import os
import subprocess
import sys
import textwrap

import pytest

from nablite import config
from nnabla_parity import check_same_source


def test_defaults_are_nnablas():
    """Every setting, read by NNabla 1.39's nnabla_config and by nablite's."""
    keys = [[s, k] for s, section in config.DEFAULTS.items() for k in section]
    mine, want = check_same_source('''
from nnabla.config import nnabla_config
OUT = {"values": [nnabla_config.get(s, k) for s, k in keys],
       "sections": sorted(nnabla_config.sections())}
''', keys=keys)
    assert mine["values"] == want["values"] and len(want["values"]) == 18


def test_files_are_read_in_order_over_the_defaults(tmp_path):
    first, second = tmp_path / "a.conf", tmp_path / "b.conf"
    first.write_text("[DATA_ITERATOR]\ndata_source_file_cache_size = 5\n"
                     "cache_file_format = .h5\n[MINE]\nkey = 1\n")
    second.write_text("[DATA_ITERATOR]\ndata_source_file_cache_size = 7\n")
    c = config.read_config([str(first), str(tmp_path / "absent.conf"), str(second)])
    assert c.get("DATA_ITERATOR", "data_source_file_cache_size") == "7"  # the later file
    assert c.get("DATA_ITERATOR", "cache_file_format") == ".h5"
    assert c.get("DATA_ITERATOR", "data_source_buffer_max_size") == "1073741824"  # default
    assert c.get("MINE", "key") == "1"  # sections of one's own are kept
    bad = tmp_path / "bad.conf"
    bad.write_text("no section here\n")
    with pytest.raises(ValueError, match=r"nablite.config: .*bad.conf is not a configuration"):
        config.read_config([str(bad)])


def test_a_non_integer_setting_is_named(monkeypatch):
    c = config.read_config([])
    c.set("DATA_ITERATOR", "data_source_file_cache_size", "many")
    monkeypatch.setattr(config, "nnabla_config", c)
    with pytest.raises(ValueError, match=r"\[DATA_ITERATOR\] data_source_file_cache_size = "
                                         r"'many' must be an integer"):
        config.get_int("DATA_ITERATOR", "data_source_file_cache_size")


def test_the_file_cache_follows_the_working_folders_and_the_envs_files(tmp_path):
    """./nnabla.conf sets the chunk size, $NNABLA_CONFIG_FILE_PATH (read last) where
    temporary caches go; a data source made afterwards uses both."""
    (tmp_path / "nnabla.conf").write_text(
        "[DATA_ITERATOR]\ndata_source_file_cache_size = 3\n"
        "data_source_file_cache_location = nowhere\n")
    where = tmp_path / "caches"
    env_file = tmp_path / "env.conf"
    env_file.write_text(f"[DATA_ITERATOR]\ndata_source_file_cache_location = {where}\n")
    script = textwrap.dedent("""
        import os, numpy as np
        from nablite.utils.data_source import DataSourceWithFileCache
        from nablite.utils.data_source_implements import SimpleDataSource
        src = SimpleDataSource(lambda i: (np.full(2, i, np.float32),), 7)
        fc = DataSourceWithFileCache(src)
        print(DataSourceWithFileCache.cache_size, os.path.dirname(fc._cache_dir))
        print(sorted(n for n in os.listdir(fc._cache_dir) if n.startswith("cache_0")))
        fc.close()
    """)
    env = dict(os.environ, NNABLA_CONFIG_FILE_PATH=str(env_file), HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    size, parent = proc.stdout.splitlines()[0].split()
    assert size == "3" and parent == str(where)
    assert proc.stdout.splitlines()[1] == str(["cache_00000000_00000002.npy",
                                              "cache_00000003_00000005.npy",
                                              "cache_00000006_00000006.npy"])
    assert os.listdir(where) == []  # close() removed its temporary folder
