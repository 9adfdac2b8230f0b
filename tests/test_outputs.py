"""Files in and out (issue #13): one safe JSON reader, outputs written whole or not at all."""
import errno
import os
import stat

import pytest
from click.testing import CliRunner

from symloss import ConfigError, DataError, GenomeError
from symloss.files import read_json, refuse_store, write_bytes_atomic, write_text_atomic
from symloss_cli.main import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result) -> bool:
    lines = result.stderr.splitlines()
    return result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error:")


def full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


# ---- reading JSON -------------------------------------------------------------------------------
@pytest.mark.parametrize("content, message", [
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"CE": {"c10": [0.9]}, "x": "\xff\xfe"}', "not UTF-8"),
    (b'{"CE": ', "not JSON"),
    (b"", "not JSON"),
])
def test_read_json_turns_every_bad_file_into_one_typed_error(content, message, tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as raised:
        read_json(path, "results file")
    assert "results file" in str(raised.value) and "\n" not in str(raised.value)


def test_read_json_caps_the_size_reads_utf8_and_takes_an_error_class(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b"[" + b"0," * 600 + b"0]")
    with pytest.raises(DataError, match="larger than"):
        read_json(path, max_bytes=1000)
    assert read_json(path) == [0] * 601
    path.write_text('{"é": "ŷ"}', encoding="utf-8")
    assert read_json(path) == {"é": "ŷ"}
    with pytest.raises(GenomeError, match="cannot read the genome file"):
        read_json(tmp_path / "missing.json", "genome file", error=GenomeError)
    with pytest.raises(GenomeError, match="cannot read"):
        read_json(tmp_path, "genome file", error=GenomeError)  # a directory


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000, b'{"CE": {"c10": [0.9, 0.91]}}\xff', b"\x00"])
def test_table_results_on_a_bad_file_is_one_line_exit_2(content, tmp_path):
    path = tmp_path / "results.json"
    path.write_bytes(content)
    result = run("table", "results", path)
    assert one_line_error(result), (result.exit_code, result.stderr)


# ---- writing atomically -------------------------------------------------------------------------
def test_write_is_whole_or_nothing(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    write_text_atomic(path, "before")
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(path, "after, longer than before")
    assert path.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_new_files_get_the_usual_permissions_and_replaced_files_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = write_bytes_atomic(tmp_path / "fresh.bin", b"\x00\x01")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644 and fresh.read_bytes() == b"\x00\x01"
        kept = tmp_path / "kept.sh"
        kept.write_text("old")
        kept.chmod(0o750)
        write_text_atomic(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o750 and kept.read_text() == "new"
    finally:
        os.umask(umask)


def test_refuse_store_names_links_and_sqlite_files(tmp_path):
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm", "store.sqlite-journal"):
        with pytest.raises(ConfigError, match="refusing"):
            refuse_store(tmp_path / name)
    database = tmp_path / "notes.db"
    database.write_bytes(b"SQLite format 3\x00" + bytes(100))
    with pytest.raises(ConfigError, match="SQLite database"):
        refuse_store(database)
    (tmp_path / "report.html").symlink_to(tmp_path / "store.sqlite")
    with pytest.raises(ConfigError, match="refusing"):
        refuse_store(tmp_path / "report.html")
    refuse_store(tmp_path / "fine.html")  # new or ordinary files are fine
    (tmp_path / "fine.html").write_text("old report")
    refuse_store(tmp_path / "fine.html")


def test_export_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "loss.py"
    assert run("export", "ce", "--format", "python", "-o", path).exit_code == 0
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", full_disk)
    result = run("export", "focal", "--format", "python", "-o", path)
    assert one_line_error(result) and "No space" in result.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.py"]


def test_plot_that_fails_midway_keeps_the_old_picture(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "p.png"
    assert run("plot", "binary", "ce", "-o", path).exit_code == 0
    before = path.read_bytes()
    original = Figure.savefig

    def half_then_full(self, target, **kwargs):
        original(self, target, **kwargs)
        with open(target, "r+b") as handle:
            handle.truncate(100)  # half written ...
        full_disk()  # ... when the disk fills up

    monkeypatch.setattr(Figure, "savefig", half_then_full)
    result = run("plot", "binary", "focal", "-o", path)
    assert one_line_error(result) and "No space" in result.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_plot_writes_the_format_its_name_says(tmp_path):
    for name, magic in (("a.png", b"\x89PNG"), ("b.PDF", b"%PDF")):
        assert run("plot", "surface", "ce", "-o", tmp_path / name).exit_code == 0
        assert (tmp_path / name).read_bytes().startswith(magic)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.PDF"]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("outputs") / "run"
    result = run("evolve", "--run-dir", run_dir, "--initial", "2", "--population", "2", "--tournament", "2",
                 "--iterations", "0", "--steps", "5")
    assert result.exit_code == 0, result.output
    return run_dir


def test_report_on_a_full_disk_keeps_the_old_report(small_run, tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("the previous report")
    monkeypatch.setattr(os, "fsync", full_disk)
    result = run("report", small_run, "-o", path)
    assert one_line_error(result) and "No space" in result.stderr
    assert path.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    monkeypatch.undo()
    assert run("report", small_run, "-o", path).exit_code == 0
    assert path.read_text().startswith("<!DOCTYPE html>")
