"""Configuration: defaults ← TOML file ← CITYLINK_* environment ← explicit arguments."""
from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cltest import write
from citylink.config import BUNDLED_SPECS, Settings, load_settings
from citylink.errors import ConfigError


@pytest.fixture
def toml(tmp_path, monkeypatch):
    f = write(tmp_path / "conf" / "citylink.toml",
              '[citylink]\nport = 9000\ndeployment = "gangbuk"\nmax_body_bytes = 2048\n'
              f'data_dir = "{tmp_path / "from-file"}"\n')
    monkeypatch.setenv("CITYLINK_CONFIG", str(f))
    return f


def test_defaults(tmp_path):
    s = load_settings(data_dir=tmp_path)
    assert (s.port, s.host, s.deployment, s.bus) == (8080, "127.0.0.1", "dobong", "memory")
    assert s.specs_dir == BUNDLED_SPECS
    assert s.resolved_store_url() == f"sqlite:///{tmp_path / 'citylink.db'}"


def test_toml_file(toml, tmp_path):
    s = load_settings()
    assert (s.port, s.deployment, s.max_body_bytes) == (9000, "gangbuk", 2048)
    assert s.data_dir == tmp_path / "from-file"


def test_environment_beats_the_file(toml, monkeypatch):
    monkeypatch.setenv("CITYLINK_PORT", "9100")
    s = load_settings()
    assert s.port == 9100 and s.deployment == "gangbuk"  # the rest still from the file


def test_arguments_beat_the_environment(toml, monkeypatch):
    monkeypatch.setenv("CITYLINK_PORT", "9100")
    assert load_settings(port=9200).port == 9200
    assert Settings(port=9300).port == 9300
    assert load_settings(port=None).port == 9100  # None means "not given"


def test_config_argument_names_the_file(tmp_path):
    f = write(tmp_path / "other.toml", "port = 7000\n")  # a file without a [citylink] table works too
    assert load_settings(f).port == 7000


def test_citylink_toml_in_the_working_directory():
    write(Path("citylink.toml"), "[citylink]\nport = 7100\n")  # the autouse fixture made cwd a tmp dir
    assert load_settings().port == 7100


def test_bad_value_names_the_key(monkeypatch):
    monkeypatch.setenv("CITYLINK_PORT", "eighty")
    with pytest.raises(ConfigError) as ei:
        load_settings()
    assert "port" in str(ei.value) and "CITYLINK_PORT" in str(ei.value)


def test_bad_value_in_the_file_names_the_key(tmp_path, monkeypatch):
    f = write(tmp_path / "c.toml", '[citylink]\nmax_body_bytes = "lots"\nspec_poll_seconds = 1\n')
    monkeypatch.setenv("CITYLINK_CONFIG", str(f))
    with pytest.raises(ConfigError, match="max_body_bytes"):
        load_settings()


def test_unknown_key_is_an_error(tmp_path, monkeypatch):
    f = write(tmp_path / "c.toml", "[citylink]\nprot = 1\n")
    monkeypatch.setenv("CITYLINK_CONFIG", str(f))
    with pytest.raises(ConfigError, match="prot"):
        load_settings()


def test_toml_syntax_error_names_the_file(tmp_path, monkeypatch):
    f = write(tmp_path / "c.toml", "port = [\n")
    monkeypatch.setenv("CITYLINK_CONFIG", str(f))
    with pytest.raises(ConfigError, match="c.toml"):
        load_settings()


def test_missing_config_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CITYLINK_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="nope.toml"):
        load_settings()
    with pytest.raises(ConfigError, match="no such file"):
        Settings()


def test_pseudonym_key_is_made_once_and_kept_private(tmp_path):
    s = load_settings(data_dir=tmp_path / "d")
    k1 = s.resolved_pseudonym_key()
    assert len(k1) == 64 and k1 == s.resolved_pseudonym_key() == load_settings(data_dir=tmp_path / "d").resolved_pseudonym_key()
    mode = stat.S_IMODE((tmp_path / "d" / "pseudonym.key").stat().st_mode)
    assert mode == 0o600
    assert load_settings(data_dir=tmp_path / "e").resolved_pseudonym_key() != k1
    assert load_settings(data_dir=tmp_path / "d", pseudonym_key="explicit").resolved_pseudonym_key() == b"explicit"
