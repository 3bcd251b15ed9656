"""Tests of configuration lookup: environment, project file, profile file, defaults, and their errors."""

from __future__ import annotations

import getpass
import json
import os
import re
from pathlib import Path

import pytest

from headwater import config
from headwater.exceptions import ConfigError


@pytest.fixture
def env(headwater_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated folder (the working directory) with no project file above it and an empty profile."""
    if config.find_upwards(str(headwater_env.parent)) is not None:
        pytest.skip("a .headwater directory exists above the temporary folder")
    monkeypatch.setattr(config, "_file_cache", {})
    monkeypatch.delenv("HEADWATER_DATASTORE_ROOT", raising=False)
    return headwater_env


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def project_file(root: Path, data: object) -> Path:
    return write_json(root / ".headwater" / "config.json", data)


def profile_file(env: Path, data: object, name: str = "config.json") -> Path:
    return write_json(env / "home" / name, data)


# -- order --------------------------------------------------------------------------------------------------


def test_defaults(env: Path) -> None:
    assert config.get("datastore") == "local"
    assert config.get("environment") is None  # chosen from the flow's decorators, else local
    assert config.get("max_num_splits") == 100
    assert config.get("max_log_size_mb") == 10
    assert config.get("datastore_root") is None
    assert config.get("unknown_setting") is None
    assert config.get("unknown_setting", "fallback") == "fallback"
    assert config.get("max_workers", 8) == 8  # a None default gives way to the caller's


def test_environment_variable_wins_over_files(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_file(env, {"datastore": "from-project"})
    profile_file(env, {"datastore": "from-profile"})
    monkeypatch.setenv("HEADWATER_DATASTORE", "from-env")
    assert config.get("datastore") == "from-env"


def test_empty_environment_variable_is_ignored(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_file(env, {"datastore": "from-project"})
    monkeypatch.setenv("HEADWATER_DATASTORE", "")
    assert config.get("datastore") == "from-project"


def test_project_file_is_found_upwards_from_the_working_directory(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_file(env / "proj", {"max_workers": 4, "datastore_root": "/data"})
    deep = env / "proj" / "a" / "b"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert config.get("max_workers") == 4
    assert config.get("datastore_root") == "/data"
    monkeypatch.chdir(env)
    assert config.get("max_workers") is None  # not above the working directory any more


def test_project_file_from_an_explicit_directory(env: Path) -> None:
    project_file(env / "proj", {"max_workers": 3})
    assert config.get("max_workers", cwd=str(env / "proj")) == 3
    assert config.get("max_workers", cwd=str(env)) is None


def test_nearest_project_file_wins(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project_file(env, {"max_workers": 1, "user": "outer"})
    project_file(env / "inner", {"max_workers": 2})
    monkeypatch.chdir(env / "inner")
    assert config.get("max_workers") == 2
    assert config.get("user") is None  # the nearest file only; keys are not merged across projects


def test_project_file_wins_over_the_profile(env: Path) -> None:
    project_file(env, {"datastore": "from-project"})
    profile_file(env, {"datastore": "from-profile", "environment": "conda"})
    assert config.get("datastore") == "from-project"
    assert config.get("environment") == "conda"


def test_profile_file_in_headwater_home(env: Path) -> None:
    profile_file(env, {"max_num_splits": 7})
    assert config.get("max_num_splits") == 7


def test_named_profile(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    profile_file(env, {"datastore": "default-profile", "max_workers": 2})
    profile_file(env, {"datastore": "dev-profile"}, name="config_dev.json")
    monkeypatch.setenv("HEADWATER_PROFILE", "dev")
    assert config.get("datastore") == "dev-profile"
    assert config.get("max_workers") is None  # the default profile is not read at all


def test_profile_defaults_to_the_home_directory(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEADWATER_HOME")
    monkeypatch.setenv("HOME", str(env / "user"))
    write_json(env / "user" / ".headwater" / "config.json", {"max_workers": 6})
    monkeypatch.chdir(env)
    assert config.get("max_workers") == 6


def test_false_values_in_files_are_returned(env: Path) -> None:
    profile_file(env, {"datastore": "", "max_workers": 0})
    assert config.get("datastore") == ""
    assert config.get("max_workers") == 0


# -- get_int ------------------------------------------------------------------------------------------------


def test_get_int(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config.get_int("max_num_splits") == 100
    assert config.get_int("max_workers") is None
    assert config.get_int("max_workers", 3) == 3
    monkeypatch.setenv("HEADWATER_MAX_WORKERS", "12")
    assert config.get_int("max_workers") == 12


def test_get_int_error_names_the_setting_and_the_variable(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_MAX_WORKERS", "many")
    with pytest.raises(ConfigError) as info:
        config.get_int("max_workers")
    assert info.value.message == "The environment variable HEADWATER_MAX_WORKERS='many' is not a whole number."
    assert info.value.hint == "Set HEADWATER_MAX_WORKERS to a whole number, or unset it."


def test_get_int_error_from_a_file_names_the_file_and_key_not_a_variable(env: Path) -> None:
    path = project_file(env, {"max_workers": "many"})
    with pytest.raises(ConfigError) as info:
        config.get_int("max_workers")
    assert info.value.message == f"{path}: max_workers is 'many', which is not a whole number."
    assert info.value.hint == f"Set 'max_workers' in {path} to a whole number."
    assert "HEADWATER_MAX_WORKERS" not in str(info.value)


def test_get_int_minimum(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = profile_file(env, {"max_workers": 0})
    with pytest.raises(ConfigError) as info:
        config.get_int("max_workers", minimum=1)
    assert info.value.message == f"{path}: max_workers is 0, which is not a whole number of at least 1."
    monkeypatch.setenv("HEADWATER_MAX_WORKERS", "-3")
    with pytest.raises(ConfigError, match=r"HEADWATER_MAX_WORKERS='-3' is not a whole number of at least 1"):
        config.get_int("max_workers", minimum=1)
    monkeypatch.setenv("HEADWATER_MAX_WORKERS", "2")
    assert config.get_int("max_workers", minimum=1) == 2


# -- unknown keys -------------------------------------------------------------------------------------------


def test_unknown_key_in_a_file_warns_naming_the_file_and_the_nearest_key(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project_file(env, {"max_worker": 2, "zzz": 1, "datastore": "local"})
    assert config.get("datastore") == "local"
    assert config.get("max_workers") is None  # the misspelt key is not read
    err = capsys.readouterr().err
    assert f"{path}: unknown configuration key 'max_worker' is ignored; did you mean 'max_workers'?" in err
    assert f"{path}: unknown configuration key 'zzz' is ignored; known keys: datastore, " in err
    assert err.count("max_worker'") == 1  # once per file, not once per lookup
    assert "'datastore'" not in err


def test_keys_a_plugin_declares_give_no_warning(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(config, "KNOWN_KEYS", set(config.KNOWN_KEYS))
    config.add_keys("batch_queue")
    profile_file(env, {"batch_queue": "q"})
    assert config.get("batch_queue") == "q"
    assert capsys.readouterr().err == ""


def test_get_int_rejects_a_list_from_a_file(env: Path) -> None:
    profile_file(env, {"max_workers": [1, 2]})
    with pytest.raises(ConfigError, match=r"max_workers is \[1, 2\], which is not a whole number"):
        config.get_int("max_workers")


def test_get_int_rejects_a_fraction_from_a_file(env: Path) -> None:
    profile_file(env, {"max_workers": 2.5})
    with pytest.raises(ConfigError, match="is not a whole number"):
        config.get_int("max_workers")


# -- bad files ----------------------------------------------------------------------------------------------


def test_invalid_json_names_the_file(env: Path) -> None:
    path = env / "home" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ConfigError) as info:
        config.get("anything")
    assert info.value.message.startswith(f"Configuration file {path} cannot be read: ")
    assert info.value.hint == "Fix the JSON or remove the file."


def test_invalid_project_file_names_it(env: Path) -> None:
    path = env / ".headwater" / "config.json"
    path.parent.mkdir()
    path.write_text("[1, 2")
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        config.get("datastore")


def test_json_that_is_not_an_object(env: Path) -> None:
    path = project_file(env, [1, 2, 3])
    with pytest.raises(ConfigError) as info:
        config.get("datastore")
    assert info.value.message == f"Configuration file {path} must hold a JSON object."


def test_environment_variable_is_read_before_a_broken_file(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (env / ".headwater").mkdir()
    (env / ".headwater" / "config.json").write_text("{broken")
    monkeypatch.setenv("HEADWATER_DATASTORE", "s3")
    assert config.get("datastore") == "s3"


def test_files_are_read_once_per_process(env: Path) -> None:
    path = profile_file(env, {"max_workers": 1})
    assert config.get("max_workers") == 1
    path.write_text(json.dumps({"max_workers": 2}))
    assert config.get("max_workers") == 1
    config._file_cache.clear()
    assert config.get("max_workers") == 2


# -- find_upwards -------------------------------------------------------------------------------------------


def test_find_upwards(env: Path) -> None:
    (env / "a" / ".headwater").mkdir(parents=True)
    (env / "a" / "b" / "c").mkdir(parents=True)
    assert config.find_upwards(str(env / "a" / "b" / "c")) == str(env / "a" / ".headwater")
    assert config.find_upwards(str(env / "a")) == str(env / "a" / ".headwater")
    assert config.find_upwards(str(env)) is None
    (env / "marker").mkdir()
    assert config.find_upwards(str(env / "a" / "b"), name="marker") == str(env / "marker")


# -- username -----------------------------------------------------------------------------------------------


def test_username_order(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "from-user")
    monkeypatch.setenv("USERNAME", "from-username")
    monkeypatch.setenv("LOGNAME", "from-logname")
    profile_file(env, {"user": "from-profile"})
    monkeypatch.setenv("HEADWATER_USER", "from-headwater")
    assert config.username() == "from-headwater"
    monkeypatch.delenv("HEADWATER_USER")
    assert config.username() == "from-profile"
    config._file_cache.clear()
    profile_file(env, {})
    assert config.username() == "from-user"
    monkeypatch.setenv("USER", "")
    assert config.username() == "from-username"
    monkeypatch.delenv("USERNAME")
    assert config.username() == "from-logname"


def test_username_falls_back_to_the_os_account(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("USER", "USERNAME", "LOGNAME", "LNAME"):
        monkeypatch.delenv(var, raising=False)
    assert config.username() == getpass.getuser()

    def no_account() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", no_account)
    assert config.username() == "unknown"


def test_cpu_count(env: Path) -> None:
    count = config.cpu_count()
    assert isinstance(count, int)
    assert 1 <= count <= (os.cpu_count() or 1)
