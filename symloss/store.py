"""The run store: one SQLite file per run directory, append-only rows, one commit per result.

WAL journaling lets another process read the store while a run writes it; a run killed
at any moment leaves every committed evaluation in place, and nothing half-written.
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ConfigError, SymlossError
from .phenotype import POINTS

SCHEMA_VERSION = 1
FILENAME = "store.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
    seed INTEGER NOT NULL, code_version TEXT NOT NULL, status TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE TABLE IF NOT EXISTS genomes (
    key TEXT PRIMARY KEY, genome TEXT, expression TEXT NOT NULL, latex TEXT NOT NULL,
    phenotype BLOB, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS evaluations (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), stage TEXT NOT NULL,
    setting TEXT NOT NULL, technique TEXT NOT NULL, preset TEXT NOT NULL, seed INTEGER NOT NULL,
    key TEXT NOT NULL, genome TEXT, iteration INTEGER, fitness REAL NOT NULL, status TEXT NOT NULL,
    reason TEXT, steps INTEGER NOT NULL, wall_s REAL NOT NULL,
    reused_from INTEGER REFERENCES evaluations(id), created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS evaluations_by_setting ON evaluations (setting, key);
CREATE INDEX IF NOT EXISTS evaluations_by_run ON evaluations (run_id, stage);
CREATE TABLE IF NOT EXISTS iterations (
    run_id INTEGER NOT NULL REFERENCES runs(id), iteration INTEGER NOT NULL, sequence INTEGER NOT NULL,
    parent_evaluation INTEGER REFERENCES evaluations(id), evaluation_id INTEGER NOT NULL REFERENCES evaluations(id),
    attempts INTEGER NOT NULL, rng_state TEXT NOT NULL, population TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (run_id, iteration));
"""


class StoreError(SymlossError, RuntimeError):
    """A run directory that is not one, one written by an incompatible version, or a store whose
    rows are not what symloss writes (each message names the file and the row)."""


@dataclass(frozen=True)
class EvaluationRow:
    id: int
    run_id: int
    stage: str
    setting: str
    technique: str
    preset: str
    seed: int
    key: str
    genome: dict | None
    iteration: int | None
    fitness: float
    status: str
    reason: str | None
    steps: int
    wall_s: float
    reused_from: int | None  # an earlier evaluation of the same loss in the same setting


def _expected_columns() -> dict[str, tuple[str, ...]]:
    """Each table of SCHEMA and its columns, as SQLite itself reads the schema."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(SCHEMA)
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: tuple(r[1] for r in connection.execute(f"PRAGMA table_info({t})")) for t in tables}
    finally:
        connection.close()


COLUMNS = _expected_columns()
PHENOTYPE_BYTES = POINTS * 8  # float64


class _Reader:
    """Typed values out of one stored row: each failure is a StoreError naming the row and column."""

    def __init__(self, path: Path, row: sqlite3.Row | dict, where: str):
        self.path, self.row, self.where = path, row, where

    def fail(self, column: str, problem: str):
        return StoreError(f"{self.path}: {self.where}: {column} {problem}")

    def _value(self, column: str):
        try:
            return self.row[column]
        except (IndexError, KeyError):
            raise self.fail(column, "is missing") from None

    def text(self, column: str, optional: bool = False) -> str | None:
        value = self._value(column)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(column, f"is not text ({_shown(value)})")
        return value

    def integer(self, column: str, optional: bool = False) -> int | None:
        value = self._value(column)
        if value is None and optional:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(column, f"is not an integer ({_shown(value)})")
        return value

    def real(self, column: str) -> float:
        value = self._value(column)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise self.fail(column, f"is not a finite number ({_shown(value)})")
        return float(value)

    def json(self, column: str, kind: type, optional: bool = False):
        value = self._value(column)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(column, f"is not JSON text ({_shown(value)})")
        try:
            document = json.loads(value)
        except RecursionError:
            raise self.fail(column, "is JSON nested too deeply") from None
        except ValueError:
            raise self.fail(column, f"is not JSON ({_shown(value)})") from None
        if not isinstance(document, kind):
            raise self.fail(column, f"is not a JSON {'object' if kind is dict else 'array'} ({_shown(value)})")
        return document

    def phenotype(self, column: str) -> np.ndarray | None:
        value = self._value(column)
        if value is None:
            return None
        if not isinstance(value, bytes) or len(value) != PHENOTYPE_BYTES:
            size = f"{len(value)} bytes" if isinstance(value, bytes) else _shown(value)
            raise self.fail(column, f"is not {POINTS} float64 values ({size})")
        return np.frombuffer(value, dtype=np.float64)


def _shown(value: Any, limit: int = 40) -> str:
    """A stored value in an error message: printable text as it is, anything else as its repr
    (control characters escaped), shortened."""
    text = value if isinstance(value, str) and value.isprintable() and "'" not in value else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _evaluation(path: Path, row: sqlite3.Row) -> EvaluationRow:
    read = _Reader(path, row, f"evaluation {_shown(row['id'])}")
    return EvaluationRow(
        id=read.integer("id"), run_id=read.integer("run_id"), stage=read.text("stage"), setting=read.text("setting"),
        technique=read.text("technique"), preset=read.text("preset"), seed=read.integer("seed"), key=read.text("key"),
        genome=read.json("genome", dict, optional=True), iteration=read.integer("iteration", optional=True),
        fitness=read.real("fitness"), status=read.text("status"), reason=read.text("reason", optional=True),
        steps=read.integer("steps"), wall_s=read.real("wall_s"), reused_from=read.integer("reused_from", optional=True))


# what reading a stored genome document may raise when it is not one (a tampered store)
_BAD_GENOME = (SymlossError, TypeError, ValueError, KeyError, AttributeError, RecursionError)


class Store:
    """A run store in `directory` (created with `create=True`).

    `read_only=True` opens an existing store for reading only, as anything may hand it to us: the
    file is opened with SQLite's mode=ro (immutable when no run has it open), no journal mode is
    set and nothing is written, so neither a byte of the file nor the directory changes (a store
    on a read-only mount reads too). Every open checks the schema (tables, columns, version)
    before anything else, and every row read is checked (`check()` reads them all at once):
    what is not a symloss store, or not one this version wrote, is a StoreError.
    """

    def __init__(self, directory: str | Path, create: bool = False, read_only: bool = False):
        if create and read_only:
            raise ValueError("a store is created or opened read-only, not both")
        self.directory = Path(directory)
        self.path = self.directory / FILENAME
        self.read_only = read_only
        if not self.path.is_file():
            if not create:
                raise StoreError(f"{self.directory} is not a symloss run directory (no {FILENAME})")
            self.directory.mkdir(parents=True, exist_ok=True)
        try:
            if read_only:
                self.connection = sqlite3.connect(self._read_only_uri(), uri=True, isolation_level=None, timeout=30)
            else:
                self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open {self.path}: {error}") from None
        self.connection.row_factory = sqlite3.Row
        try:
            tables = {r[0] for r in self.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self._initialise(tables, create)
            if not read_only:
                self.connection.execute("PRAGMA journal_mode=WAL")
                self.connection.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, StoreError) as error:
            self.connection.close()
            if isinstance(error, StoreError):
                raise
            raise StoreError(f"{self.path} is not a symloss store: {error}") from None

    @classmethod
    def open_read_only(cls, directory: str | Path, check: bool = True) -> "Store":
        """The store in `directory`, read-only, every row checked (`check`) before it is used."""
        store = cls(directory, read_only=True)
        if check:
            try:
                store.check()
            except BaseException:
                store.close()
                raise
        return store

    def _read_only_uri(self) -> str:
        """mode=ro; and immutable=1 when no -wal file shows a writer (else SQLite would create one)."""
        uri = self.path.resolve().as_uri() + "?mode=ro"
        if not Path(f"{self.path}-wal").exists():
            uri += "&immutable=1"
        return uri

    def _initialise(self, tables: set[str], create: bool) -> None:
        if "meta" not in tables:
            if tables or not create:
                raise StoreError(f"{self.path} is not a symloss store")
            self.connection.executescript(
                f"BEGIN; {SCHEMA} INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); "
                f"INSERT INTO meta VALUES ('created_by', '{__version__}'); COMMIT;")
            return
        self._check_columns("meta")
        version = self.meta("schema_version")
        if str(version) != str(SCHEMA_VERSION):
            raise StoreError(f"{self.path} has store schema {_shown(version)}; this symloss ({__version__}) "
                             f"reads schema {SCHEMA_VERSION}")
        for table in COLUMNS:
            if table not in tables:
                raise StoreError(f"{self.path} is not a symloss store (no table {table})")
            self._check_columns(table)

    def _check_columns(self, table: str) -> None:
        present = {r[1] for r in self.connection.execute(f"PRAGMA table_info({table})")}
        missing = [c for c in COLUMNS[table] if c not in present]
        if missing:
            raise StoreError(f"{self.path} is not a symloss store (table {table} lacks {', '.join(missing)})")

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        return _Transaction(self.connection)

    def meta(self, name: str) -> str | None:
        row = self.connection.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        """Write a new meta entry (an entry is written once: a second write of `name` is a StoreError)."""
        try:
            with self.transaction():
                self.connection.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, value))
        except sqlite3.IntegrityError:
            raise StoreError(f"{self.path} already has a {_shown(name)} entry") from None

    # ---- runs ------------------------------------------------------------------------
    def _run(self, row: sqlite3.Row) -> dict:
        read = _Reader(self.path, row, f"run {_shown(row['id'])}")
        return {"id": read.integer("id"), "kind": read.text("kind"), "name": read.text("name"),
                "config": read.json("config", dict), "seed": read.integer("seed"),
                "code_version": read.text("code_version"), "status": read.text("status"),
                "created": read.real("created"), "updated": read.real("updated")}

    def run(self, name: str) -> dict | None:
        row = self.connection.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._run(row)

    def runs(self) -> list[dict]:
        return [self._run(row) for row in self.connection.execute("SELECT * FROM runs ORDER BY id")]

    def create_run(self, kind: str, name: str, config: dict[str, Any], seed: int) -> int:
        now = time.time()
        with self.transaction():
            cursor = self.connection.execute(
                "INSERT INTO runs (kind, name, config, seed, code_version, status, created, updated) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (kind, name, json.dumps(config, sort_keys=True), seed, __version__, now, now))
        return int(cursor.lastrowid)

    def open_run(self, kind: str, name: str, config: dict[str, Any], seed: int) -> int:
        """The id of the run `name`, made with `config` and `seed` when there is none; one made with
        another seed or another value of a key both configurations have is a ConfigError."""
        run = self.run(name)
        if run is None:
            return self.create_run(kind, name, config, seed)
        wanted = json.loads(json.dumps(config, sort_keys=True))  # compared as stored
        changed = sorted(k for k in wanted if k in run["config"] and run["config"][k] != wanted[k])
        if changed or run["seed"] != seed:
            shown = ", ".join(f"{k} {_shown(json.dumps(run['config'][k]))}" for k in changed) or f"seed {run['seed']}"
            raise ConfigError(f"{self.directory}: its run {name} was made with {shown}; it cannot change")
        return run["id"]

    def set_status(self, run_id: int, status: str) -> None:
        with self.transaction():
            self.connection.execute("UPDATE runs SET status = ?, updated = ? WHERE id = ?", (status, time.time(), run_id))

    # ---- genomes and evaluations -------------------------------------------------------
    def add_genome(self, key: str, genome: dict | None, expression: str, latex: str,
                   phenotype: np.ndarray | None) -> None:
        blob = None if phenotype is None else np.asarray(phenotype, dtype=np.float64).tobytes()
        self.connection.execute(
            "INSERT OR IGNORE INTO genomes (key, genome, expression, latex, phenotype, created) VALUES (?, ?, ?, ?, ?, ?)",
            (key, None if genome is None else json.dumps(genome), expression, latex, blob, time.time()))

    def _genome(self, row: sqlite3.Row) -> dict:
        read = _Reader(self.path, row, f"genome {_shown(row['key'])}")
        return {"key": read.text("key"), "genome": read.json("genome", dict, optional=True),
                "expression": read.text("expression"), "latex": read.text("latex"),
                "phenotype": read.phenotype("phenotype"), "created": read.real("created")}

    def genome(self, key: str) -> dict | None:
        """The genome row of `key` (genome, expression, latex, phenotype), or None."""
        row = self.connection.execute("SELECT * FROM genomes WHERE key = ?", (key,)).fetchone()
        return None if row is None else self._genome(row)

    def require_genome(self, key: str) -> dict:
        """The genome row of a key the store's evaluations name: a StoreError when it is missing."""
        found = self.genome(key)
        if found is None:
            raise StoreError(f"{self.path}: no genome row for key {_shown(key)}")
        return found

    def genome_of(self, evaluation: EvaluationRow):
        """The Genome of an evaluation, read from its stored document: a StoreError naming the row
        when there is none or it is not a genome."""
        return self._genome_from(evaluation.genome, f"evaluation {evaluation.id}")

    def loss(self, evaluation: EvaluationRow, name: str | None = None):
        """The Loss of an evaluation, rebuilt from its stored genome (never from stored formulas)."""
        return self.rebuild(evaluation.genome, f"evaluation {evaluation.id}", name)

    def rebuild(self, document: dict | None, where: str, name: str | None = None):
        """The Loss of a stored genome document (`where`: the row, for the message): any failure
        to read or compile it is a StoreError naming the row."""
        from .loss import Loss

        genome = self._genome_from(document, where)
        try:
            return Loss.from_genome(genome, name=name)
        except _BAD_GENOME as error:
            raise self._bad_genome(where, error) from None

    def _genome_from(self, document: dict | None, where: str):
        from .genome import Genome

        if document is None:
            raise StoreError(f"{self.path}: {where} has no genome")
        try:
            return Genome.from_dict(document)
        except _BAD_GENOME as error:
            raise self._bad_genome(where, error) from None

    def _bad_genome(self, where: str, error: Exception) -> StoreError:
        return StoreError(f"{self.path}: {where}: its genome is not one ({type(error).__name__}: "
                          f"{_shown(str(error), 120)})")

    def add_evaluation(self, *, run_id: int, stage: str, setting: str, technique: str, preset: str,
                       seed: int, key: str, genome: dict | None, iteration: int | None, fitness: float,
                       status: str, reason: str | None, steps: int, wall_s: float,
                       reused_from: int | None = None) -> int:
        cursor = self.connection.execute(
            "INSERT INTO evaluations (run_id, stage, setting, technique, preset, seed, key, genome, iteration, "
            "fitness, status, reason, steps, wall_s, reused_from, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, stage, setting, technique, preset, seed, key, None if genome is None else json.dumps(genome),
             iteration, fitness, status, reason, steps, wall_s, reused_from, time.time()))
        return int(cursor.lastrowid)

    def find_training(self, setting: str, key: str) -> EvaluationRow | None:
        """The training of `key` in `setting` (the same loss trained the same way), if any."""
        row = self.connection.execute(
            "SELECT * FROM evaluations WHERE setting = ? AND key = ? AND reused_from IS NULL ORDER BY id LIMIT 1",
            (setting, key)).fetchone()
        return None if row is None else _evaluation(self.path, row)

    def evaluation(self, evaluation_id: int) -> EvaluationRow:
        row = self.connection.execute("SELECT * FROM evaluations WHERE id = ?", (evaluation_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no evaluation {_shown(evaluation_id)}")
        return _evaluation(self.path, row)

    def evaluations(self, run_id: int | None = None, stage: str | None = None) -> list[EvaluationRow]:
        query, params = "SELECT * FROM evaluations WHERE 1=1", []
        if run_id is not None:
            query, params = query + " AND run_id = ?", params + [run_id]
        if stage is not None:
            query, params = query + " AND stage = ?", params + [stage]
        return [_evaluation(self.path, r) for r in self.connection.execute(query + " ORDER BY id", params)]

    # ---- evolution iterations ------------------------------------------------------------
    def add_iteration(self, *, run_id: int, iteration: int, parent_evaluation: int, evaluation_id: int,
                      attempts: int, rng_state: dict, population: list[tuple[int, int]]) -> None:
        """One evolution step: its child's evaluation and the population after it ((evaluation, age) pairs)."""
        sequence = self.connection.execute(
            "SELECT COUNT(*) FROM iterations WHERE run_id = ?", (run_id,)).fetchone()[0]
        self.connection.execute(
            "INSERT INTO iterations (run_id, iteration, sequence, parent_evaluation, evaluation_id, attempts, "
            "rng_state, population, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, iteration, sequence, parent_evaluation, evaluation_id, attempts,
             json.dumps(rng_state), json.dumps(population), time.time()))

    def _iteration(self, row: sqlite3.Row) -> dict:
        read = _Reader(self.path, row, f"iteration {_shown(row['iteration'])} of run {_shown(row['run_id'])}")
        population = read.json("population", list)
        if not all(isinstance(m, list) and len(m) == 2 and all(type(v) is int for v in m) for m in population):
            raise read.fail("population", "is not a list of [evaluation, age] pairs")
        return {"run_id": read.integer("run_id"), "iteration": read.integer("iteration"),
                "sequence": read.integer("sequence"),
                "parent_evaluation": read.integer("parent_evaluation", optional=True),
                "evaluation_id": read.integer("evaluation_id"), "attempts": read.integer("attempts"),
                "rng_state": read.json("rng_state", dict), "population": population, "created": read.real("created")}

    def iterations(self, run_id: int) -> list[dict]:
        """Evolution steps in the order they completed."""
        rows = self.connection.execute("SELECT * FROM iterations WHERE run_id = ? ORDER BY sequence", (run_id,))
        return [self._iteration(r) for r in rows]

    # ---- the whole store -----------------------------------------------------------------
    def check(self, genomes: bool = False) -> None:
        """Read every row as the readers do and check what rows refer to (runs, genomes,
        evaluations): a StoreError naming the first bad row. `genomes`: also rebuild each
        distinct stored genome (slower; for commands that will)."""
        try:
            runs = {run["id"] for run in self.runs()}
            keys = set()
            for row in self.connection.execute("SELECT * FROM genomes ORDER BY key"):
                keys.add(self._genome(row)["key"])
            evaluations = self.evaluations()
            ids = {e.id for e in evaluations}
            seen: set[str] = set()
            for e in evaluations:
                where = f"{self.path}: evaluation {e.id}"
                if e.run_id not in runs:
                    raise StoreError(f"{where} belongs to run {e.run_id}, which the store does not hold")
                if e.key not in keys:
                    raise StoreError(f"{where}: no genome row for key {_shown(e.key)}")
                if e.reused_from is not None and e.reused_from not in ids:
                    raise StoreError(f"{where} reuses evaluation {e.reused_from}, which the store does not hold")
                if genomes and e.genome is not None:
                    try:
                        text = json.dumps(e.genome, sort_keys=True)
                    except (RecursionError, ValueError):
                        text = None
                    if text is None or text not in seen:
                        self.genome_of(e)
                        seen.add(text)
            for run_id in sorted(runs):
                for step in self.iterations(run_id):
                    named = [step["evaluation_id"]] + [m[0] for m in step["population"]]
                    if step["parent_evaluation"] is not None:
                        named.append(step["parent_evaluation"])
                    if any(i not in ids for i in named):
                        raise StoreError(f"{self.path}: iteration {step['iteration']} of run {run_id} names an "
                                         f"evaluation the store does not hold")
            orphans = self.connection.execute(
                "SELECT COUNT(*) FROM iterations WHERE run_id NOT IN (SELECT id FROM runs)").fetchone()[0]
            if orphans:
                raise StoreError(f"{self.path}: {orphans} iteration(s) belong to no run the store holds")
        except sqlite3.Error as error:
            raise StoreError(f"{self.path} cannot be read: {error}") from None


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback) -> None:
        self.connection.execute("ROLLBACK" if kind else "COMMIT")

