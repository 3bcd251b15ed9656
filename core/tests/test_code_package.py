"""Tests of the code package: which files it holds, byte-for-byte determinism, storing and its cache."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from headwater import code_package, hookimpl, plugins
from headwater.code_package import FIXED_MTIME, build, collect, fingerprint
from headwater.datastore.local import LocalStorage
from headwater.datastore.records import FlowDatastore


def write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def project(headwater_env: Path) -> Path:
    root = headwater_env / "proj"
    write(root / "flow.py", "print('flow')\n")
    write(root / "helpers.py", "X = 1\n")
    write(root / "pkg" / "__init__.py")
    write(root / "pkg" / "sub" / "mod.py", "Y = 2\n")
    write(root / "README.md", "not code")
    write(root / "data.csv", "a,b\n")
    write(root / ".git" / "hooks" / "hook.py")
    write(root / ".hidden" / "x.py")
    write(root / "pkg" / "__pycache__" / "cached.py")
    write(root / "node_modules" / "tool.py")
    write(root / "myvenv" / "pyvenv.cfg", "home = /usr/bin\n")
    write(root / "myvenv" / "lib" / "site.py")
    write(root / ".headwater" / "stray.py")
    return root


@pytest.fixture
def datastore(project: Path) -> FlowDatastore:
    return FlowDatastore(LocalStorage(str(project / ".headwater")), "MyFlow")


def members(archive: bytes) -> list[tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return tar.getmembers()


def cache_of(datastore: FlowDatastore) -> dict[str, str]:
    return json.loads(datastore.storage.get("MyFlow/code-cache.json"))


# -- collect ------------------------------------------------------------------------------------------------


def test_collect_takes_python_files_recursively_and_skips_the_rest(project: Path) -> None:
    files = collect(str(project / "flow.py"))
    assert [arc for arc, _ in files] == ["flow.py", "helpers.py", "pkg/__init__.py", "pkg/sub/mod.py"]
    assert dict(files)["pkg/sub/mod.py"] == str(project / "pkg" / "sub" / "mod.py")


def test_collect_from_a_relative_flow_path(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project / "pkg")
    assert [arc for arc, _ in collect("../flow.py")][:2] == ["flow.py", "helpers.py"]


def test_links_out_of_the_folder_are_skipped_with_a_warning(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = write(project.parent / "outside" / "secret.py", "PASSWORD = 'hunter2'\n")
    (project / "passwd_link.py").symlink_to("/etc/passwd")
    (project / "pkg" / "secret_link.py").symlink_to(secret)
    (project / "pkg" / "dotdot.py").symlink_to("../../outside/secret.py")
    (project / "broken.py").symlink_to(project / "nowhere.py")
    files = collect(str(project / "flow.py"))
    assert [arc for arc, _ in files] == ["flow.py", "helpers.py", "pkg/__init__.py", "pkg/sub/mod.py"]
    archive = build(files)
    assert b"hunter2" not in gzip.decompress(archive)
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 4
    assert any("passwd_link.py is left out" in w and "/etc/passwd" in w for w in warnings)
    assert any("pkg/secret_link.py is left out" in w and "outside" in w for w in warnings)
    assert any("pkg/dotdot.py is left out" in w for w in warnings)
    assert any("broken.py is left out" in w and "not a file" in w for w in warnings)


def test_links_inside_the_folder_store_their_target_content(project: Path) -> None:
    (project / "alias.py").symlink_to("helpers.py")
    (project / "pkg" / "up.py").symlink_to(project / "pkg" / "sub" / "mod.py")
    (project / "linked_dir").symlink_to(project / "pkg")  # a folder link is not descended into
    files = dict(collect(str(project / "flow.py")))
    assert files["alias.py"] == str(project / "helpers.py")
    assert files["pkg/up.py"] == str(project / "pkg" / "sub" / "mod.py")
    assert not any(arc.startswith("linked_dir/") for arc in files)
    with tarfile.open(fileobj=io.BytesIO(build(sorted(files.items()))), mode="r:gz") as tar:
        member = tar.extractfile("alias.py")
        assert member is not None and member.read() == b"X = 1\n"
        assert tar.getmember("alias.py").isfile()


def test_collect_includes_files_added_by_plugins(project: Path) -> None:
    extra = write(project.parent / "outside" / "settings.toml", "k = 1\n")
    seen: list[str] = []

    class AddsFiles:
        @hookimpl
        def register_code_package_files(self, flow_file, register):
            seen.append(flow_file)
            register("conf/settings.toml", str(extra))

    name = plugins.register_plugin(AddsFiles(), name="test-adds-files")
    try:
        files = collect(str(project / "flow.py"))
    finally:
        plugins.unregister_plugin(name)
    assert seen == [str(project / "flow.py")]
    assert ("conf/settings.toml", str(extra)) in files
    assert [arc for arc, _ in files] == sorted(arc for arc, _ in files)


# -- build --------------------------------------------------------------------------------------------------


def test_build_is_deterministic_even_after_touching_mtimes(project: Path) -> None:
    first = build(collect(str(project / "flow.py")))
    for path in project.rglob("*.py"):
        os.utime(path, (1_234_567_890, 1_234_567_890))
    second = build(collect(str(project / "flow.py")))
    assert second == first


def test_build_does_not_depend_on_where_the_project_is(project: Path) -> None:
    copy = project.parent / "elsewhere" / "proj"
    shutil.copytree(project, copy)
    assert build(collect(str(copy / "flow.py"))) == build(collect(str(project / "flow.py")))


def test_build_changes_with_the_content(project: Path) -> None:
    before = build(collect(str(project / "flow.py")))
    (project / "helpers.py").write_text("X = 2\n")  # same size, different bytes
    assert build(collect(str(project / "flow.py"))) != before


def test_archive_members_have_fixed_times_and_owners(project: Path) -> None:
    os.chmod(project / "flow.py", 0o755)
    archive = build(collect(str(project / "flow.py")))
    infos = {info.name: info for info in members(archive)}
    assert sorted(infos) == ["flow.py", "helpers.py", "pkg/__init__.py", "pkg/sub/mod.py"]
    for info in infos.values():
        assert info.mtime == FIXED_MTIME
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
        assert info.isfile()
    assert infos["flow.py"].mode == 0o755
    assert infos["helpers.py"].mode == 0o644
    assert infos["pkg/sub/mod.py"].size == len("Y = 2\n")
    assert archive[4:8] == b"\0\0\0\0"  # gzip header time


def test_archive_holds_the_file_contents(project: Path) -> None:
    archive = build(collect(str(project / "flow.py")))
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert tar.extractfile("pkg/sub/mod.py").read() == b"Y = 2\n"
        assert tar.extractfile("flow.py").read() == b"print('flow')\n"
    assert len(gzip.decompress(archive)) % 512 == 0  # a plain tar stream inside


def test_empty_build_is_a_valid_archive() -> None:
    assert members(build([])) == []
    assert build([]) == build([])


def test_fingerprint_tracks_names_sizes_and_mtimes(project: Path) -> None:
    files = collect(str(project / "flow.py"))
    first = fingerprint(files)
    assert fingerprint(files) == first
    os.utime(project / "helpers.py", ns=(1_000_000_000, 1_000_000_000))
    touched = fingerprint(files)
    assert touched != first
    renamed = [("other.py" if arc == "helpers.py" else arc, path) for arc, path in files]
    assert fingerprint(renamed) != touched


# -- store and load -----------------------------------------------------------------------------------------


def test_store_returns_the_same_key_and_load_returns_the_archive(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    key = code_package.store(datastore, flow)
    assert code_package.store(datastore, flow) == key
    assert datastore.cas.exists(key)
    archive = code_package.load(datastore, key)
    assert type(archive) is bytes
    assert archive == build(collect(flow))
    assert members(archive)[0].name == "flow.py"


def test_second_store_uses_the_cache_and_does_not_rebuild(
    project: Path, datastore: FlowDatastore, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = str(project / "flow.py")
    key = code_package.store(datastore, flow)
    assert cache_of(datastore) == {fingerprint(collect(flow)): key}

    def no_build(files):
        raise AssertionError("the package was built again")

    monkeypatch.setattr(code_package, "build", no_build)
    assert code_package.store(datastore, flow) == key


def test_touched_files_rebuild_to_the_same_key(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    key = code_package.store(datastore, flow)
    blobs = list(Path(datastore.storage.uri("MyFlow/data")).rglob("*"))
    os.utime(project / "helpers.py", ns=(5_000_000_000, 5_000_000_000))
    assert code_package.store(datastore, flow) == key
    assert sorted(cache_of(datastore).values()) == [key, key]
    assert list(Path(datastore.storage.uri("MyFlow/data")).rglob("*")) == blobs


def test_changed_code_gets_a_new_key(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    first = code_package.store(datastore, flow)
    write(project / "pkg" / "new.py", "Z = 3\n")
    second = code_package.store(datastore, flow)
    assert second != first
    assert "pkg/new.py" in [m.name for m in members(code_package.load(datastore, second))]
    assert "pkg/new.py" not in [m.name for m in members(code_package.load(datastore, first))]


def test_cache_entry_without_its_blob_is_rebuilt(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    key = code_package.store(datastore, flow)
    datastore.storage.delete(datastore.cas.path(key))
    assert code_package.store(datastore, flow) == key
    assert datastore.cas.exists(key)


def test_unreadable_cache_is_ignored(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    datastore.storage.put("MyFlow/code-cache.json", [b"{not json"])
    key = code_package.store(datastore, flow)
    assert cache_of(datastore) == {fingerprint(collect(flow)): key}


@pytest.mark.parametrize("cache", [b"[1, 2]", b'{"x": 5}', b"null"], ids=["list", "bad-key", "null"])
def test_cache_of_the_wrong_shape_is_ignored(project: Path, datastore: FlowDatastore, cache: bytes) -> None:
    flow = str(project / "flow.py")
    datastore.storage.put("MyFlow/code-cache.json", [cache.replace(b'"x"', f'"{fingerprint(collect(flow))}"'.encode())])
    key = code_package.store(datastore, flow)
    assert cache_of(datastore) == {fingerprint(collect(flow)): key}


def test_cache_keeps_the_latest_twenty_entries(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    prints = []
    for i in range(22):
        os.utime(project / "helpers.py", ns=(i * 10**9, i * 10**9))
        code_package.store(datastore, flow)
        prints.append(fingerprint(collect(flow)))
    cache = cache_of(datastore)
    assert list(cache) == prints[-20:]
    assert len(set(cache.values())) == 1


def test_non_ascii_names_are_deterministic(headwater_env: Path) -> None:
    root = headwater_env / "proj"
    write(root / "flow.py")
    module = write(root / "ünï" / "módulo.py", "x = 1\n")
    first = build(collect(str(root / "flow.py")))
    os.utime(module, (1, 1))
    assert build(collect(str(root / "flow.py"))) == first
    assert [m.name for m in members(first)] == ["flow.py", "ünï/módulo.py"]


def test_a_damaged_package_is_rebuilt_not_reused(project: Path, datastore: FlowDatastore) -> None:
    flow = str(project / "flow.py")
    key = code_package.store(datastore, flow)
    blob = Path(datastore.storage.uri(datastore.cas.path(key)))
    blob.write_bytes(blob.read_bytes()[:-10])  # cut short; its cache entry still names it
    assert code_package.store(datastore, flow) == key
    assert [m.name for m in members(code_package.load(datastore, key))][:2] == ["flow.py", "helpers.py"]
