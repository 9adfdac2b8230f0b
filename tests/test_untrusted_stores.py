"""Stores that others send: read-only opening, tampered rows, stored text passed on raw (issue #13).

Every tampered store gives one line on stderr and exit 2, and leaves the file byte for byte as it
was with no new file beside it; reading commands never write; stored text reaches no terminal,
HTML page or LaTeX table unescaped."""
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from symloss.render import terminal_safe
from symloss.store import Store, StoreError
from symloss_cli.main import main

TINY = ["--initial", "3", "--population", "2", "--tournament", "2", "--iterations", "1", "--steps", "5", "--seed", "2"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("untrusted") / "pristine"
    result = run("evolve", "--run-dir", run_dir, *TINY)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in run_dir.iterdir()) == ["store.sqlite"]
    return run_dir


@pytest.fixture
def run_dir(pristine, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(pristine, copy)
    return copy


def snapshot(run_dir: Path) -> dict:
    """Every file of the run directory and its bytes' hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(run_dir.iterdir())}


def sql(run_dir: Path, *statements: str) -> None:
    connection = sqlite3.connect(run_dir / "store.sqlite")
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()


def other_program(path: Path) -> None:
    path.unlink()
    connection = sqlite3.connect(path)  # a rollback-journal database, as most programs leave them
    connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    connection.execute("INSERT INTO notes (text) VALUES ('mine')")
    connection.commit()
    connection.close()


TAMPERINGS = {
    "config not JSON": lambda d: sql(d, "UPDATE runs SET config = '{not json'"),
    "config not an object": lambda d: sql(d, "UPDATE runs SET config = '[1, 2]'"),
    "fitness as text": lambda d: sql(d, "UPDATE evaluations SET fitness = 'high'"),
    "genome row missing": lambda d: sql(d, "DELETE FROM genomes"),
    "genome not JSON": lambda d: sql(d, "UPDATE evaluations SET genome = '{bad'"),
    "genome not an object": lambda d: sql(d, "UPDATE evaluations SET genome = '[1, 2]'"),
    "genome nested too deeply": lambda d: sql(d, "UPDATE evaluations SET genome = '" + "[" * 100_000 + "'"),
    "genome of the wrong shape": lambda d: sql(
        d, """UPDATE evaluations SET genome = '{"nodes": [{"id": [1], "op": "ln", "args": []}]}'"""),
    "stored genome not JSON": lambda d: sql(d, "UPDATE genomes SET genome = '{bad'"),
    "phenotype of the wrong length": lambda d: sql(d, "UPDATE genomes SET phenotype = x'0102'"),
    "runs row missing": lambda d: sql(d, "DELETE FROM runs"),
    "runs row missing, no iterations": lambda d: sql(d, "DELETE FROM runs", "DELETE FROM iterations"),
    "population not pairs": lambda d: sql(d, "UPDATE iterations SET population = '[[1]]'"),
    "schema from the future": lambda d: sql(d, "UPDATE meta SET value = '99' WHERE name = 'schema_version'"),
    "column missing": lambda d: sql(d, "ALTER TABLE evaluations DROP COLUMN reason"),
    "another program's SQLite file": lambda d: other_program(d / "store.sqlite"),
    "zero bytes": lambda d: (d / "store.sqlite").write_bytes(b""),
    "random bytes": lambda d: (d / "store.sqlite").write_bytes(bytes(range(256)) * 20),
}

COMMANDS = {
    "top": lambda d: ["top", d],
    "top --json": lambda d: ["top", d, "--all", "--json"],
    "export": lambda d: ["export", f"{d}:best", "--format", "python"],
    "report": lambda d: ["report", d],
    "table equations": lambda d: ["table", "equations", "--run-dir", d],
    "evolve --resume": lambda d: ["evolve", "--resume", d],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_store_is_one_line_exit_2_and_left_as_it_was(tampering, command, run_dir):
    TAMPERINGS[tampering](run_dir)
    before = snapshot(run_dir)
    result = run(*COMMANDS[command](run_dir))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert snapshot(run_dir) == before  # no byte changed, no -wal, -shm or report left behind


@pytest.mark.parametrize("change", [
    "json_set(config, '$.initial', 'many')", "json_set(config, '$.preset', 'huge')",
    "json_set(config, '$.train_overrides', json('{\"steps\": [5]}'))", "json_set(config, '$.colour', 'red')",
])
def test_resume_refuses_a_stored_configuration_it_cannot_run(change, run_dir):
    sql(run_dir, f"UPDATE runs SET config = {change}")
    before = snapshot(run_dir)
    result = run("evolve", "--resume", run_dir)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("error:"), result.stderr
    assert snapshot(run_dir) == before


def test_reading_commands_change_no_byte_and_leave_no_file(run_dir, tmp_path):
    before = snapshot(run_dir)
    for args in (["top", run_dir], ["top", run_dir, "--json"], ["table", "equations", "--run-dir", run_dir],
                 ["report", run_dir, "-o", tmp_path / "r.html"], ["export", f"{run_dir}:best2"]):
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
        assert snapshot(run_dir) == before, args


def test_another_programs_sqlite_file_is_refused_before_any_write(run_dir):
    other_program(run_dir / "store.sqlite")
    before = snapshot(run_dir)
    with pytest.raises(StoreError, match="not a symloss store"):
        Store(run_dir, read_only=True)
    with pytest.raises(StoreError, match="not a symloss store"):
        Store(run_dir)  # a writer too refuses before it switches the file to WAL
    assert snapshot(run_dir) == before
    journal = sqlite3.connect(run_dir / "store.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert journal == "delete"


def test_store_opened_read_only_refuses_writes(run_dir):
    before = snapshot(run_dir)
    with Store(run_dir, read_only=True) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.set_status(1, "tampered")
    assert snapshot(run_dir) == before


def test_read_only_store_reads_while_a_run_writes(run_dir):
    writer = Store(run_dir)  # a run in progress: -wal and -shm exist
    try:
        run_id = writer.run("evolve")["id"]
        writer.add_evaluation(run_id=run_id, stage="other", setting="s", technique="base", preset="demo", seed=0,
                              key=writer.evaluations()[0].key, genome=None, iteration=None, fitness=0.5,
                              status="ok", reason=None, steps=1, wall_s=0.0)
        with Store.open_read_only(run_dir) as reader:  # sees what the writer committed, in its WAL
            assert [e.stage for e in reader.evaluations()][-1] == "other"
    finally:
        writer.close()


UNSHARE = shutil.which("unshare")
MOUNTED_READ_ONLY = """
import json, sys
from click.testing import CliRunner
from symloss_cli.main import main
results = []
for args in json.loads(sys.argv[1]):
    result = CliRunner().invoke(main, args)
    results.append([result.exit_code, result.stdout, result.stderr])
print(json.dumps(results))
"""


def test_reading_commands_read_a_run_on_a_read_only_mount(run_dir, tmp_path):
    """The run directory bind-mounted read-only (a mount namespace, so root cannot write either)."""
    if UNSHARE is None or subprocess.run([UNSHARE, "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespace here (unshare -m)")
    commands = [["top", str(run_dir)], ["table", "equations", "--run-dir", str(run_dir), "--format", "text"],
                ["report", str(run_dir), "-o", str(tmp_path / "report.html")]]
    script = (f"mount --bind {run_dir} {run_dir} && mount -o remount,bind,ro {run_dir} {run_dir} && "
              f"! touch {run_dir}/probe 2>/dev/null && exec {sys.executable} -c \"$0\" \"$1\"")
    result = subprocess.run([UNSHARE, "-m", "sh", "-c", script, MOUNTED_READ_ONLY, json.dumps(commands)],
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0 and "mount" in result.stderr:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    (top, top_out, top_err), (table, table_out, _), (report, _, report_err) = json.loads(result.stdout)
    assert top == 0 and "1. fitness" in top_out, top_err
    assert table == 0 and "#1 (" in table_out
    assert report == 0 and (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>"), report_err


# ---- stored text is passed on escaped ------------------------------------------------------
ESCAPES = "\x1b]0;owned\x07\x1b[2J\r\x9b31m\u202e"


def test_terminal_safe_shows_control_characters_as_escapes():
    shown = terminal_safe("a\x1b[31mb\nc\u202ed\x7f")
    assert shown == r"a\x1b[31mb\x0ac\u202ed\x7f"
    assert terminal_safe("- y \\log(ŷ) + tanh(y)") == "- y \\log(ŷ) + tanh(y)"


def test_top_prints_no_escape_sequence_from_the_store(run_dir):
    sql(run_dir, f"UPDATE genomes SET expression = expression || '{ESCAPES}', latex = latex || '{ESCAPES}'",
        f"UPDATE evaluations SET status = 'ok{ESCAPES}'")
    result = run("top", run_dir)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.stdout and "\r" not in result.stdout and "\x9b" not in result.stdout
    assert "\u202e" not in result.stdout and r"\x1b]0;owned\x07" in result.stdout
    as_json = run("top", run_dir, "--json")
    rows = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert "\x1b" not in as_json.stdout and rows[0]["status"] == f"ok{ESCAPES}"
    assert len(result.stdout.splitlines()) == 3 * len(rows)  # 3 lines a loss: no line break got through


def test_table_from_a_store_never_uses_the_stored_latex(run_dir):
    sql(run_dir, r"UPDATE genomes SET latex = '\immediate\write18{touch PWNED}'")
    for fmt in ("latex", "markdown", "text"):
        result = run("table", "equations", "--run-dir", run_dir, "--format", fmt)
        assert result.exit_code == 0, result.output
        assert "write18" not in result.stdout and "PWNED" not in result.stdout
        assert r"\frac" in result.stdout or r"\log" in result.stdout or r"\sigma" in result.stdout


def test_names_in_latex_tables_are_escaped():
    from symloss.render import tables

    hostile = "\\immediate\\write18{touch PWNED}\x1b"
    latex = tables.equation_table([(hostile, "y"), ("x", tables.Plain(hostile))], "latex")
    assert "\\write18" not in latex and "\\immediate" not in latex and "\x1b" not in latex
    assert r"\texttt{\textbackslash{}immediate" in latex
    markdown = tables.equation_table([("a|b", tables.Plain("c|d"))], "markdown")
    assert markdown.splitlines()[-1] == r"| a\|b | `c\|d` |"


def test_report_escapes_every_stored_text(run_dir, tmp_path):
    sql(run_dir, "UPDATE evaluations SET status = '<script>alert(1)</script>' WHERE stage = 'baseline'",
        "UPDATE evaluations SET status = '<img src=x onerror=alert(2)>' WHERE stage != 'baseline'",
        "UPDATE genomes SET expression = '</code><script>alert(3)</script>'")
    result = run("report", run_dir, "-o", tmp_path / "r.html")
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r.html").read_text()
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;script&gt;alert(3)" in page


# ---- outputs never replace a store ---------------------------------------------------------
@pytest.mark.parametrize("name", ["store.sqlite", "store.sqlite-wal", "store.sqlite-shm"])
def test_report_refuses_to_write_over_a_store(run_dir, name):
    before = snapshot(run_dir)
    result = run("report", run_dir, "-o", run_dir / name)
    assert result.exit_code == 2 and result.stderr.startswith("error: refusing to write over")
    assert len(result.stderr.splitlines()) == 1
    assert snapshot(run_dir) == before


def test_outputs_refuse_a_store_by_another_name_or_link(run_dir, tmp_path):
    (tmp_path / "link.html").symlink_to(run_dir / "store.sqlite")
    copy = tmp_path / "copy.py"
    shutil.copy(run_dir / "store.sqlite", copy)
    before = snapshot(run_dir), copy.read_bytes()
    for args in (["report", run_dir, "-o", tmp_path / "link.html"], ["export", "ce", "-o", copy],
                 ["export", "ce", "-o", run_dir / "store.sqlite"]):
        result = run(*args)
        assert result.exit_code == 2 and "refusing to write over" in result.stderr, args
    assert (snapshot(run_dir), copy.read_bytes()) == before


# ---- file names and names with '$' in pictures ------------------------------------------------
def test_dollar_in_file_and_loss_names_plots(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    genome = json.loads(run("random", "-n", "1", "--seed", "3").stdout)
    Path("g$\\foo$.json").write_text(json.dumps(genome))
    for kind in ("binary", "surface", "diff"):
        result = run("plot", kind, "g$\\foo$.json", "-o", f"a$b {kind}$.png")
        assert result.exit_code == 0, result.output
        assert Path(f"a$b {kind}$.png").read_bytes().startswith(b"\x89PNG")


def test_run_dir_with_uri_characters_reads(pristine, tmp_path):
    odd = tmp_path / "a ?b#c%d$e"
    shutil.copytree(pristine, odd)
    result = run("top", odd, "-n", "1")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in odd.iterdir()) == ["store.sqlite"]
