"""The run store: one SQLite file per run directory, append-only rows, one commit per result.

WAL journaling lets another process read the store while a run writes it; a run killed
at any moment leaves every committed evaluation in place, and nothing half-written.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import SymlossError

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
    """A run directory that is not one, or one written by an incompatible version."""


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


def _evaluation(row: sqlite3.Row) -> EvaluationRow:
    values = dict(row)
    values.pop("created")
    values["genome"] = json.loads(values["genome"]) if values["genome"] else None
    return EvaluationRow(**values)


class Store:
    """A run store in `directory` (created with `create=True`)."""

    def __init__(self, directory: str | Path, create: bool = False):
        self.directory = Path(directory)
        self.path = self.directory / FILENAME
        if not self.path.is_file():
            if not create:
                raise StoreError(f"{self.directory} is not a symloss run directory (no {FILENAME})")
            self.directory.mkdir(parents=True, exist_ok=True)
        try:
            self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open {self.path}: {error}") from None
        self.connection.row_factory = sqlite3.Row
        try:
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=NORMAL")
            tables = {r[0] for r in self.connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            self._initialise(tables, create)
        except (sqlite3.Error, StoreError) as error:
            self.connection.close()
            if isinstance(error, StoreError):
                raise
            raise StoreError(f"{self.path} is not a symloss store: {error}") from None

    def _initialise(self, tables: set[str], create: bool) -> None:
        if "meta" not in tables:
            if tables or not create:
                raise StoreError(f"{self.path} is not a symloss store")
            self.connection.executescript(
                f"BEGIN; {SCHEMA} INSERT INTO meta VALUES ('schema_version', '{SCHEMA_VERSION}'); "
                f"INSERT INTO meta VALUES ('created_by', '{__version__}'); COMMIT;")
            return
        version = self.meta("schema_version")
        if version != str(SCHEMA_VERSION):
            raise StoreError(f"{self.path} has store schema {version}; this symloss ({__version__}) "
                             f"reads schema {SCHEMA_VERSION}")

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

    # ---- runs ------------------------------------------------------------------------
    def run(self, name: str) -> dict | None:
        row = self.connection.execute("SELECT * FROM runs WHERE name = ?", (name,)).fetchone()
        return None if row is None else dict(row, config=json.loads(row["config"]))

    def create_run(self, kind: str, name: str, config: dict[str, Any], seed: int) -> int:
        now = time.time()
        with self.transaction():
            cursor = self.connection.execute(
                "INSERT INTO runs (kind, name, config, seed, code_version, status, created, updated) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (kind, name, json.dumps(config, sort_keys=True), seed, __version__, now, now))
        return int(cursor.lastrowid)

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

    def genome(self, key: str) -> dict | None:
        row = self.connection.execute("SELECT * FROM genomes WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        values = dict(row)
        values["genome"] = json.loads(values["genome"]) if values["genome"] else None
        values["phenotype"] = None if row["phenotype"] is None else np.frombuffer(row["phenotype"], dtype=np.float64)
        return values

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
        return None if row is None else _evaluation(row)

    def evaluation(self, evaluation_id: int) -> EvaluationRow:
        return _evaluation(self.connection.execute("SELECT * FROM evaluations WHERE id = ?", (evaluation_id,)).fetchone())

    def evaluations(self, run_id: int | None = None, stage: str | None = None) -> list[EvaluationRow]:
        query, params = "SELECT * FROM evaluations WHERE 1=1", []
        if run_id is not None:
            query, params = query + " AND run_id = ?", params + [run_id]
        if stage is not None:
            query, params = query + " AND stage = ?", params + [stage]
        return [_evaluation(r) for r in self.connection.execute(query + " ORDER BY id", params)]

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

    def iterations(self, run_id: int) -> list[dict]:
        """Evolution steps in the order they completed."""
        rows = self.connection.execute("SELECT * FROM iterations WHERE run_id = ? ORDER BY sequence", (run_id,))
        return [dict(r, rng_state=json.loads(r["rng_state"]), population=json.loads(r["population"])) for r in rows]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        self.connection.execute("BEGIN IMMEDIATE")
        return self.connection

    def __exit__(self, kind, value, traceback) -> None:
        self.connection.execute("ROLLBACK" if kind else "COMMIT")

