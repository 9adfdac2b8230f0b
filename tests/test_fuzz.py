"""Untrusted text is data: generated, mutated and hostile expressions, saved losses and genome files
raise only symloss's typed errors, finish within their budget, and run nothing (no file appears)."""
import json
import os
import subprocess
import sys
import time

import pytest
import sympy as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symloss import ExpressionError, Genome, GenomeError, Loss, SymlossError, export, parsing, references
from symloss_cli.main import main

BUDGET_S = 15.0  # the hang guard's 10 s, and room for a loaded machine
PWN = "__import__('os').system('touch PWNED')"
PAYLOADS = [
    "-y*log(yhat)+0*(y.__class__.__new__.__globals__['__builtins__']['__import__']('os').system('touch PWNED') or 0)",
    "Symbol.__new__.__globals__['__builtins__']['__import__']('os').system('touch PWNED') or Symbol('y')",
    PWN, f"y*({PWN})", "[c for c in ().__class__.__base__.__subclasses__()]", "lambda: 0", "y if yhat else 0",
    "y.__class__", "yhat[0]", "'touch PWNED'", "y; import os", "exec('1')", "eval('y')", "open('PWNED','w')",
    "y*9**9**9", "y*2**(2**40)", "10**5000", "y*exp(1000)*log(yhat)", "y*1e400", "y*1e308*1e308",
    "1/(" * 40 + "y" + ")" * 40, "log(" * 60 + "yhat" + ")" * 60, "log(" * 100 + "yhat" + ")" * 100,
    "+".join(["y*yhat"] * 10000), "(" * 500 + "y" + ")" * 500, "y" * 300, "y" + " " * 100000,
    "Pow(Integer(9), Integer(387420489))", "sqrt(-1)*y", "zoo*y", "nan", "1j*y", "True*y", "y @ yhat",
    "y // yhat", "y % yhat", "y << 2", "not y", "y < yhat", "max(y, yhat, 1)", "log()", "log(y, yhat)",
    "log(y=1)", "log(*[y])", "f'{y}'", "b'y'", "...", "\x1b[2Jy", "y\x00", "\ud800",
]
SREPR_PAYLOADS = [
    "Symbol.__new__.__globals__['__builtins__']['__import__']('os').system('touch PWNED') or Symbol('y')",
    "Pow(Integer(9), Integer(387420489))", "Integer(" + "9" * 5000 + ")", "Float('1e400', precision=53)",
    "Float('nan')", "Symbol('__import__')", "Symbol('y', evaluate=__import__('os'))", "Function('f')(Symbol('y'))",
    "Add(*[Symbol('y')])", "Mul(Symbol('y'), Symbol('y').__class__)", "Integral(Symbol('y'), Symbol('y'))",
    "Rational(1, 0)", "exp(Integer(1000))", "Add(" * 100 + "Symbol('y')" + ")" * 100, "", "   ", "[]", "{}",
    "Symbol('y', nonnegative=True) + 1", "Max(Symbol('y'))", "Pow(Symbol('yhat'), Integer(10000))",
]


def call_in_budget(function, *args):
    """function(*args) -> (result or the typed error, seconds); any other exception fails the test."""
    started = time.perf_counter()
    try:
        result = function(*args)
    except SymlossError as error:
        result = error
    return result, time.perf_counter() - started


@pytest.fixture
def quiet_directory(tmp_path, monkeypatch):
    """Run in an empty directory; the test fails if anything creates a file there."""
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert sorted(os.listdir(tmp_path)) == [], "reading untrusted text created a file"


def test_every_hostile_expression_is_refused_or_read_safely(quiet_directory):
    slowest = (0.0, "")
    for text in PAYLOADS:
        result, seconds = call_in_budget(Loss.parse, text)
        slowest = max(slowest, (seconds, text[:40]))
        if not isinstance(result, ExpressionError):
            assert isinstance(result, Loss), text
            assert result.expr.free_symbols <= {sp.Symbol("y", nonnegative=True), sp.Symbol("yhat", positive=True)}
    assert slowest[0] < BUDGET_S, slowest


def test_payloads_that_used_to_run_code_or_hang_are_errors():
    for text in PAYLOADS[:14] + ["y*9**9**9", "y*2**(2**40)", "10**5000", "y*exp(1000)*log(yhat)", "y*1e400",
                                 "1/(" * 40 + "y" + ")" * 40, "log(" * 60 + "yhat" + ")" * 60]:
        with pytest.raises(ExpressionError):
            Loss.parse(text)


def test_every_hostile_saved_expression_is_refused_or_read_safely(quiet_directory):
    for text in SREPR_PAYLOADS:
        document = {"format": "symloss.loss/1", "expression": text, "name": "x"}
        result, seconds = call_in_budget(Loss.from_dict, document)
        assert seconds < BUDGET_S, text[:40]
        assert isinstance(result, (ExpressionError, Loss)), text[:40]
    with pytest.raises(ExpressionError):
        Loss.from_dict({"format": "symloss.loss/1", "expression": SREPR_PAYLOADS[0]})


def test_a_hostile_expression_beside_a_valid_genome_falls_back_to_the_genome(quiet_directory):
    genome = Genome.random(0)
    document = {"format": "symloss.loss/1", "expression": SREPR_PAYLOADS[0], "genome": genome.to_dict()}
    assert Loss.from_dict(document).key == Loss.from_genome(genome).key


def test_saved_expressions_read_back_exactly():
    for seed in range(60):
        loss = Loss.from_genome(Genome.random(seed))
        again = Loss.from_dict(json.loads(json.dumps(loss.to_dict())))
        assert again.expr == loss.expr and again.key == loss.key


# ---- generated and mutated expressions ----------------------------------------------------------
FUNCTION_NAMES = sorted(name for name, (arity, _) in parsing.FUNCTIONS.items())


def expressions(depth=3):
    leaves = st.one_of(st.sampled_from(["y", "yhat", "1", "-1", "2", "0.5", "1e-3", "pi", "E", "0"]),
                       st.integers(-10**6, 10**6).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr))
    if depth == 0:
        return leaves
    inner = expressions(depth - 1)
    binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "**"]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})")
    call = st.tuples(st.sampled_from(FUNCTION_NAMES), st.lists(inner, min_size=1, max_size=2)).map(
        lambda t: f"{t[0]}({', '.join(t[1])})")
    return st.one_of(leaves, binary, call, inner.map(lambda e: f"-{e}"))


ALPHABET = "yhat()+-*/. _,'\"[]{}:;=\\0123456789eE~!@#$%^&|<>?`\n\x1b"


def mutated(text_strategy):
    edit = st.tuples(st.integers(0, 400), st.sampled_from(["insert", "delete", "replace"]), st.sampled_from(ALPHABET))

    def apply(pair):
        text, edits = pair
        for position, kind, character in edits:
            position %= len(text) + 1
            if kind == "insert":
                text = text[:position] + character + text[position:]
            elif kind == "delete":
                text = text[:position] + text[position + 1:]
            else:
                text = text[:position] + character + text[position + 1:]
        return text

    return st.tuples(text_strategy, st.lists(edit, min_size=1, max_size=4)).map(apply)


SEEDS = st.sampled_from(PAYLOADS[:20] + ["-y*log(yhat)", "softplus(yhat) - div_sqrt1p(y, yhat)", "Max(y, yhat)**2"])
SLOWEST = {"seconds": 0.0, "text": ""}
COUNT = {"parsed": 0, "losses": 0}


def _check_text(text):
    COUNT["parsed"] += 1
    result, seconds = call_in_budget(Loss.parse, text)
    COUNT["losses"] += isinstance(result, Loss)
    if seconds > SLOWEST["seconds"]:
        SLOWEST.update(seconds=seconds, text=text)
    assert seconds < BUDGET_S, text
    assert isinstance(result, (Loss, ExpressionError))


@settings(max_examples=6000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(expressions())
def test_generated_expressions_only_raise_typed_errors(text):
    _check_text(text)


@settings(max_examples=4000, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.one_of(mutated(expressions(2)), mutated(SEEDS)))
def test_mutated_expressions_only_raise_typed_errors(text):
    _check_text(text)


def test_fuzz_counts_and_the_slowest_input(capsys):
    """Runs after the two fuzz tests (file order): at least 10,000 texts went through Loss.parse."""
    assert COUNT["parsed"] >= 10000
    with capsys.disabled():
        print(f"\nfuzz: {COUNT['parsed']} expressions, {COUNT['losses']} of them losses; slowest {SLOWEST['seconds']:.2f} s: {SLOWEST['text'][:80]!r}")


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=6), children,
                                                                                         max_size=6),
                    max_leaves=30))
def test_arbitrary_json_is_a_genome_or_a_genome_error(document):
    for candidate in (document, {"nodes": document}, {"nodes": [{"id": document, "op": "ln", "args": ["y"]}]},
                      {"nodes": [{"id": "h0", "op": document, "args": document}]}):
        try:
            Genome.from_dict(candidate)
        except GenomeError:
            pass


def test_genome_fields_of_the_wrong_type_are_genome_errors():
    base = Genome.random(1).to_dict()
    for field, value in [("id", ["h0"]), ("op", ["ln"]), ("args", [["y"]]), ("args", "y"), ("id", {"a": 1}),
                         ("op", None), ("args", [1])]:
        document = json.loads(json.dumps(base))
        document["nodes"][0][field] = value
        with pytest.raises(GenomeError):
            Genome.from_dict(document)


# ---- files and references -------------------------------------------------------------------------
def test_loss_files_that_are_not_json_utf8_or_are_too_deep_are_expression_errors(tmp_path):
    cases = {"deep.json": "[" * 100000 + "]" * 100000, "latin1.json": "{\"name\": \"caf\xe9\"}".encode("latin-1"),
             "huge.json": "[" + "0," * 600000 + "0]", "empty.json": ""}
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        with pytest.raises(ExpressionError):
            references.resolve(str(path))


def test_an_expression_is_read_before_a_file_of_the_same_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "yhat").write_text(json.dumps(Genome.random(2).to_dict()))
    assert str(references.resolve("yhat").expr) == "yhat"
    long_expression = "+".join(f"y*yhat**{k % 7}" for k in range(60))
    assert len(long_expression) > 255 and isinstance(references.resolve(long_expression), Loss)


def test_a_file_that_is_no_expression_is_read_as_a_genome(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    genome = Genome.random(3)
    (tmp_path / "my-loss.genome").write_text(json.dumps(genome.to_dict()))
    assert references.resolve("my-loss.genome").key == Loss.from_genome(genome).key


def test_label_smoothing_must_be_a_number_in_the_unit_interval():
    loss = Loss.parse("-y*log(yhat)")
    for value in (float("nan"), float("inf"), 5.0, -0.1, "0.1", True):
        document = loss.to_dict() | {"label_smoothing": value}
        with pytest.raises(ExpressionError, match="label_smoothing"):
            Loss.from_dict(document)


# ---- export: generated code cannot be escaped ------------------------------------------------------
INJECTED_NAMES = ['x"""\nopen("PWNED", "w")\n"""', "x\r\nopen('PWNED','w')", "x\u2028open('PWNED','w')",
                  "'''; open('PWNED','w'); '''", "\\\nopen('PWNED','w')"]


def test_exported_modules_import_without_running_injected_text(tmp_path):
    paths = []
    for index, name in enumerate(INJECTED_NAMES):
        loss = Loss.parse("-y*log(yhat) + softplus(-yhat)*y", name=name)
        path = tmp_path / f"exported_{index}.py"
        path.write_text(export.export(loss, "torch"))
        paths.append(str(path))
    script = ("import importlib.util, sys, torch\n"
              "for path in sys.argv[1:]:\n"
              "    spec = importlib.util.spec_from_file_location('m', path)\n"
              "    module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
              "    assert torch.isfinite(module.SymbolicLoss()(torch.randn(4, 3), torch.tensor([0, 1, 2, 0])))\n")
    done = subprocess.run([sys.executable, "-c", script, *paths], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "PWNED").exists()


def test_the_cli_refuses_hostile_input_with_one_line_and_exit_2(quiet_directory):
    runner = CliRunner()
    for text in PAYLOADS[:4] + ["y*9**9**9", "y*exp(1000)*log(yhat)", "y*1e400", "log(" * 60 + "yhat" + ")" * 60]:
        for command in (["show", text], ["export", text]):
            result = runner.invoke(main, command)
            assert result.exit_code == 2, (command, result.output)
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    saved = quiet_directory / "saved.json"
    saved.write_text(json.dumps({"format": "symloss.loss/1", "expression": SREPR_PAYLOADS[0], "name": "x"}))
    result = runner.invoke(main, ["show", str(saved)])
    saved.unlink()
    assert result.exit_code == 2 and "PWNED" not in os.listdir(quiet_directory)
