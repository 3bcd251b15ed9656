"""Tests of the ``local`` storage backend: atomic puts, reads, listing, deletion and the default root."""

from __future__ import annotations

import array
import os
import shutil
from pathlib import Path

import pytest

from headwater.config import find_upwards
from headwater.datastore.local import LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(str(tmp_path / "store"))


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- put ----------------------------------------------------------------------------------------------------


def test_root_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert LocalStorage("rel").root == str(tmp_path / "rel")


def test_put_concatenates_chunks_of_every_bytes_like_type(storage: LocalStorage) -> None:
    ints = array.array("i", [1, 2])
    chunks = [b"head-", bytearray(b"middle-"), memoryview(b"view-"), memoryview(ints), b""]
    assert storage.put("a/b/obj", chunks) is True
    assert storage.get("a/b/obj") == b"head-middle-view-" + ints.tobytes()


def test_put_writes_a_large_chunk_whole(storage: LocalStorage) -> None:
    data = os.urandom(3 * 1024 * 1024 + 7)
    storage.put("big", [memoryview(data)[:1000], memoryview(data)[1000:]])
    assert storage.get("big") == data


def test_put_creates_parent_directories(storage: LocalStorage) -> None:
    storage.put("x/y/z/leaf", [b"1"])
    assert (Path(storage.root) / "x" / "y" / "z" / "leaf").read_bytes() == b"1"


def test_put_leaves_no_temp_file_after_success(storage: LocalStorage) -> None:
    storage.put("d/one", [b"1"])
    storage.put("d/one", [b"2"])
    storage.put("d/two", [b"3"], overwrite=False)
    storage.put("d/two", [b"4"], overwrite=False)
    assert _all_files(Path(storage.root)) == ["d/one", "d/two"]


def test_put_cleans_up_when_iterating_the_chunks_raises(storage: LocalStorage) -> None:
    storage.put("d/obj", [b"original"])

    def chunks():
        yield b"partial data"
        raise RuntimeError("producer failed")

    with pytest.raises(RuntimeError, match="producer failed"):
        storage.put("d/obj", chunks())
    assert storage.get("d/obj") == b"original"
    assert _all_files(Path(storage.root)) == ["d/obj"]


def test_put_cleans_up_when_a_chunk_is_not_bytes_like(storage: LocalStorage) -> None:
    with pytest.raises(TypeError):
        storage.put("d/new", [b"ok", 12345], overwrite=False)
    assert not storage.exists("d/new")
    assert os.listdir(Path(storage.root) / "d") == []


def test_overwrite_true_replaces(storage: LocalStorage) -> None:
    assert storage.put("obj", [b"first"]) is True
    assert storage.put("obj", [b"second"]) is True
    assert storage.get("obj") == b"second"


def test_overwrite_false_keeps_the_first_content(storage: LocalStorage) -> None:
    assert storage.put("obj", [b"first"], overwrite=False) is True
    assert storage.put("obj", [b"second"], overwrite=False) is False
    assert storage.get("obj") == b"first"
    assert os.listdir(storage.root) == ["obj"]


def test_put_after_the_directory_was_removed(storage: LocalStorage) -> None:
    storage.put("run/step/a", [b"1"])
    shutil.rmtree(Path(storage.root) / "run")
    storage.put("run/step/b", [b"2"])
    assert storage.get("run/step/b") == b"2"


# -- reading ------------------------------------------------------------------------------------------------


def test_get_open_and_exists(storage: LocalStorage) -> None:
    storage.put("p/q", [b"hello world"])
    assert storage.get("p/q") == b"hello world"
    with storage.open("p/q") as f:
        assert f.read(5) == b"hello"
        buf = bytearray(6)
        assert f.readinto(buf) == 6
        assert bytes(buf) == b" world"
        assert f.read() == b""
    assert storage.exists("p/q") is True
    assert storage.exists("p") is True
    assert storage.exists("p/missing") is False


def test_missing_paths_raise_file_not_found(storage: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError):
        storage.get("nope")
    with pytest.raises(FileNotFoundError):
        storage.open("no/such/thing")


def test_list_names_directly_under_a_prefix_and_hides_temp_files(storage: LocalStorage) -> None:
    storage.put("runs/1/run.json", [b"{}"])
    storage.put("runs/2/run.json", [b"{}"])
    storage.put("runs/file", [b"x"])
    (Path(storage.root) / "runs" / ".tmp-leftover").write_bytes(b"crashed writer")
    assert sorted(storage.list("runs")) == ["1", "2", "file"]
    assert storage.list("runs/1") == ["run.json"]


def test_list_of_missing_or_file_prefix_is_empty(storage: LocalStorage) -> None:
    assert storage.list("absent") == []
    storage.put("leaf", [b"x"])
    assert storage.list("leaf") == []


def test_delete(storage: LocalStorage) -> None:
    storage.put("a/obj", [b"x"])
    storage.delete("a/obj")
    assert storage.exists("a/obj") is False
    storage.delete("a/obj")  # already gone: no error
    storage.delete("never/existed")
    assert storage.list("a") == []


def test_uri(storage: LocalStorage) -> None:
    assert storage.uri() == storage.root
    assert storage.uri("a/b") == os.path.join(storage.root, "a/b")
    assert repr(storage) == f"LocalStorage({storage.root!r})"


# -- default root -------------------------------------------------------------------------------------------


def test_default_root_is_next_to_the_flow_when_there_is_none(tmp_path: Path) -> None:
    if find_upwards(str(tmp_path)) is not None:
        pytest.skip("a .headwater directory exists above the temporary folder")
    flow = tmp_path / "proj" / "flow.py"
    flow.parent.mkdir()
    flow.write_text("")
    assert LocalStorage.default_root(str(flow)) == str(tmp_path / "proj" / ".headwater")
    assert not (tmp_path / "proj" / ".headwater").exists()  # computing it creates nothing


def test_default_root_finds_the_nearest_headwater_upwards(tmp_path: Path) -> None:
    (tmp_path / ".headwater").mkdir()
    (tmp_path / "a" / ".headwater").mkdir(parents=True)
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    (deep / "flow.py").write_text("")
    assert LocalStorage.default_root(str(deep / "flow.py")) == str(tmp_path / "a" / ".headwater")
    (tmp_path / "other").mkdir()
    assert LocalStorage.default_root(str(tmp_path / "other" / "flow.py")) == str(tmp_path / ".headwater")


def test_default_root_ignores_a_file_named_headwater(tmp_path: Path) -> None:
    (tmp_path / ".headwater").mkdir()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".headwater").write_text("not a directory")
    assert LocalStorage.default_root(str(tmp_path / "sub" / "flow.py")) == str(tmp_path / ".headwater")


def test_default_root_without_a_flow_file_uses_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".headwater").mkdir()
    (tmp_path / "w").mkdir()
    monkeypatch.chdir(tmp_path / "w")
    assert LocalStorage.default_root(None) == str(tmp_path / ".headwater")


def test_default_root_of_a_relative_flow_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "proj" / ".headwater").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert LocalStorage.default_root("proj/flow.py") == str(tmp_path / "proj" / ".headwater")


# -- leftovers ----------------------------------------------------------------------------------------------


def test_remove_leftovers_removes_only_old_temp_files(storage: LocalStorage) -> None:
    storage.put("Flow/data/ab/blob", [b"data"])
    storage.put("Flow/runs/1/run.json", [b"{}"])
    root = Path(storage.root)
    old = [root / "Flow" / "data" / "ab" / ".tmp-123-aaaaaaaaaaaa", root / "Flow" / "runs" / "1" / ".tmp-9-bbbbbb"]
    recent = root / "Flow" / "data" / "ab" / ".tmp-456-cccccccccccc"
    for path in [*old, recent]:
        path.write_bytes(b"half a blob")
    an_hour_ago = os.path.getmtime(recent) - 61 * 60
    for path in old:
        os.utime(path, (an_hour_ago, an_hour_ago))
    assert storage.list("Flow/data/ab") == ["blob"]  # never counted as data
    removed = storage.remove_leftovers(older_than_minutes=60)
    assert removed == ["Flow/data/ab/.tmp-123-aaaaaaaaaaaa", "Flow/runs/1/.tmp-9-bbbbbb"]
    assert not any(path.exists() for path in old)
    assert recent.exists()  # maybe a write still in progress
    assert storage.get("Flow/data/ab/blob") == b"data" and storage.get("Flow/runs/1/run.json") == b"{}"
    assert storage.remove_leftovers(older_than_minutes=0) == ["Flow/data/ab/.tmp-456-cccccccccccc"]
    assert _all_files(root) == ["Flow/data/ab/blob", "Flow/runs/1/run.json"]
