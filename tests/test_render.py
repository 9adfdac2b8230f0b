"""Tables, pictures and the HTML report: valid files, the right numbers, LaTeX that says what it should."""
import base64
import re
import shutil
import subprocess

import numpy as np
import pytest
import sympy as sp
from click.testing import CliRunner

import latex_reader

from symloss import Genome, Loss, ops, phenotype, zoo
from symloss.render import plots, tables
from symloss.study import Study, kendall, summarise
from symloss.symbolic import Y, YHAT
from symloss_cli.main import main

PNG, PDF = b"\x89PNG\r\n\x1a\n", b"%PDF"


def run(*args):
    return CliRunner().invoke(main, list(args))


# ---- pictures ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind, suffix, magic", [("binary", ".png", PNG), ("surface", ".pdf", PDF), ("diff", ".png", PNG)])
def test_plot_writes_valid_files(kind, suffix, magic, tmp_path):
    out = tmp_path / f"plot{suffix}"
    losses = ["focal", "mse"] if kind == "binary" else ["focal"]
    result = run("plot", kind, *losses, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic) and out.stat().st_size > 5000


def test_plot_rejects_other_suffixes(tmp_path):
    result = run("plot", "binary", "ce", "-o", str(tmp_path / "plot.jpg"))
    assert result.exit_code == 2 and ".png" in result.stderr


def test_cross_entropy_binary_phenotype_rises_with_p():
    curve = zoo.get("ce").binary_curve()
    assert np.all(np.diff(curve) > 0)
    np.testing.assert_allclose(curve, -np.log(1 - phenotype.binary_p() + 1e-7), rtol=1e-9)


def test_cross_entropy_surface_is_minus_y_log_yhat():
    y, yhat, values = phenotype.surface(zoo.get("ce").term(), points=21)
    inside = yhat > 0.01
    np.testing.assert_allclose(values[inside], -y[inside] * np.log(yhat[inside]), rtol=1e-5, atol=1e-6)


def test_difference_is_the_normalised_loss_minus_normalised_cross_entropy(tmp_path, monkeypatch):
    drawn = []
    real = plots._surface_axes
    monkeypatch.setattr(plots, "_surface_axes", lambda figure, y, yhat, values, *rest: drawn.append(
        (y, yhat, values)) or real(figure, y, yhat, values, *rest))
    loss = Loss.parse("3*(y - yhat)**2 + 1")  # spans [1, 4]: normalised, (y - yhat)^2
    assert plots.difference(loss, tmp_path / "d.png").read_bytes().startswith(PNG)
    (y, yhat, values), = drawn
    # by hand, on the 51 x 51 grid of [0, 1]^2: the loss normalised is (y - yhat)^2; CE is
    # -y ln(|yhat| + 1e-7) (the protected log), min-max normalised
    axis = np.linspace(0, 1, 51)
    grid_y, grid_yhat = np.meshgrid(axis, axis, indexing="ij")
    np.testing.assert_allclose(y, grid_y)
    np.testing.assert_allclose(yhat, grid_yhat)
    ce = -grid_y * np.log(np.abs(grid_yhat) + 1e-7)
    expected = (grid_y - grid_yhat) ** 2 - (ce - ce.min()) / (ce.max() - ce.min())
    np.testing.assert_allclose(values, expected, atol=1e-9)
    at = lambda y_value, yhat_value: values[round(50 * y_value), round(50 * yhat_value)]  # noqa: E731
    assert at(0, 1) == pytest.approx(1, abs=1e-6)  # the loss is largest, CE is 0
    assert at(1, 0) == pytest.approx(0, abs=1e-6)  # both are largest
    assert at(1, 0.5) == pytest.approx(0.25 - np.log(0.5 + 1e-7) / np.log(1e-7), abs=1e-6)


def test_scatter_writes_the_study(tmp_path):
    rng = np.random.default_rng(0)
    accuracies = {t: rng.random(30).tolist() for t in ("base", "all")}
    study = Study(["base", "all"], [str(i) for i in range(30)], accuracies, kendall(accuracies, ["base", "all"], 10), 10)
    assert plots.scatter(study, "base", "all", tmp_path / "s.png").read_bytes().startswith(PNG)
    assert plots.scatter(study, "base", "all", tmp_path / "z.pdf", zoom=True).read_bytes().startswith(PDF)


# ---- LaTeX --------------------------------------------------------------------------------
def plain(expr):
    """The expression over plain functions: what its LaTeX says (log, 1/x, sigma, Bessel)."""
    forms = {ops.PLog: sp.log, ops.PInv: lambda u: 1 / u, ops.Sigmoid: lambda u: 1 / (1 + sp.exp(-u)),
             ops.BesselI0: lambda u: sp.besseli(0, u), ops.BesselI1: lambda u: sp.besseli(1, u),
             ops.BesselI0e: lambda u: sp.exp(-sp.Abs(u)) * sp.besseli(0, u),
             ops.BesselI1e: lambda u: sp.exp(-sp.Abs(u)) * sp.besseli(1, u)}
    return expr.replace(lambda e: type(e) in forms, lambda e: forms[type(e)](e.args[0]))


def test_every_equation_evaluates_to_its_loss_at_sample_points():
    losses = [zoo.get(name) for name in zoo.names()] + [Loss.from_genome(Genome.random(seed)) for seed in range(120)]
    for loss in losses:
        written = latex_reader.read(loss.latex(digits=17)).subs({latex_reader.Y: Y, latex_reader.YHAT: YHAT})
        meant = plain(loss.expr)
        for y_value, yhat_value in [(0.3, 0.2), (1.0, 0.7), (0.05, 0.9)]:
            point = {Y: y_value, YHAT: yhat_value}
            got, expected = complex(written.subs(point).evalf()), complex(meant.subs(point).evalf())
            if np.isfinite(expected.real):
                assert abs(got - expected) <= 1e-6 * max(1.0, abs(expected)), (loss.latex(digits=17), str(loss.expr))


def test_every_equation_renders_as_math():
    from matplotlib.mathtext import MathTextParser

    parser = MathTextParser("path")
    losses = [zoo.get(name) for name in zoo.names()] + [Loss.from_genome(Genome.random(seed)) for seed in range(40)]
    for loss in losses:
        parser.parse(f"${loss.latex()}$")  # raises ValueError on LaTeX it cannot typeset


def test_equation_table_is_booktabs_with_every_equation_in_math_mode():
    entries = [(name, zoo.get(name).latex()) for name in ("ce", "focal", "baikal")]
    latex = tables.equation_table(entries, "latex")
    assert latex.startswith(r"\begin{tabular}{ll}") and r"\toprule" in latex and r"\bottomrule" in latex
    for name, equation in entries:
        assert f"{tables.escape(name)} & ${equation}$" in latex
    assert tables.escape("ce_ls") == r"ce\_ls"


def test_results_table_bolds_the_best_of_each_column():
    summary = summarise({"CE": {"c10": [0.9, 0.92]}, "L1": {"c10": [0.95, 0.93]}})
    latex = tables.results_table(summary, "latex")
    assert r"\textbf{94.000 $\pm$ 1.414}" in latex and "91.000 $\\pm$ 1.414" in latex
    assert "**94.000 ± 1.414**" in tables.results_table(summary, "markdown")


def test_html_tables_escape_every_text_and_show_equations_as_code():
    hostile = "<script>alert(1)</script>\x1b"
    equations = tables.equation_table([(hostile, "y < 1"), ("x", tables.Plain(hostile))], "html")
    results = tables.results_table(summarise({hostile: {hostile: [0.9]}}), "html")
    for page in (equations, results):
        assert page.startswith("<table><tr><th>") and "<script>" not in page and "\x1b" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;\\x1b" in page
    assert "<td><code>y &lt; 1</code></td>" in equations and "<b>90.000 ± 0.000</b>" in results


def test_table_results_command_reads_json_as_tables_5_and_6(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"CE": {"cifar10 base": [0.9, 0.91], "flowers102 base": [0.8]}, "L1": {"cifar10 base": [0.95]}}')
    result = run("table", "results", str(path), "--format", "markdown")
    assert result.exit_code == 0
    table5, table6 = result.stdout.removeprefix("**Table 5**\n").split("**Table 6**\n")
    assert "**95.000 ± 0.000**" in table5 and "flowers102" not in table5 and "L1" in table5
    assert "**80.000 ± 0.000**" in table6 and "cifar10" not in table6 and "L1" not in table6
    path.write_text('["not", "a", "table"]')
    assert run("table", "results", str(path)).exit_code == 2


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex not installed")
def test_tables_and_equations_compile_with_pdflatex(tmp_path):
    """Every table kind, and the equations of the zoo and of 50 random genomes (in a table and
    displayed), in one document with booktabs and amsmath: one pdflatex run."""
    losses = [(name, zoo.get(name)) for name in zoo.names()]
    losses += [(f"random_{seed}", Loss.from_genome(Genome.random(seed))) for seed in range(50)]
    rng = np.random.default_rng(0)
    accuracies = {t: rng.random(12).tolist() for t in ("base", "cutout", "all")}
    study = Study(["base", "cutout", "all"], [str(i) for i in range(12)], accuracies,
                  kendall(accuracies, ["base", "cutout", "all"], 5), 5)
    body = "\n\n".join([
        tables.captioned(tables.tau_table(study, "latex"), "Kendall's tau: 50% of #1 & {the_rest} ~ $x^2$ \\"),
        tables.equation_table([(name, loss.latex()) for name, loss in losses], "latex"),
        tables.results_table(summarise({"CE": {"c10/base": [0.9, 0.91]}, "L_1&2": {"c10/base": [0.93]}}), "latex"),
        "\n".join(f"\\[ {loss.latex()} \\]" for _, loss in losses),
    ])
    (tmp_path / "t.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\usepackage{amsmath}\n"
                                    f"\\begin{{document}}\n{body}\n\\end{{document}}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    log = (tmp_path / "t.log").read_text(errors="replace")
    errors = [line for line in log.splitlines() if line.startswith("!")]
    assert result.returncode == 0 and not errors, errors or result.stdout[-3000:]
    assert (tmp_path / "t.pdf").read_bytes().startswith(PDF)


# ---- report --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evolution_dir(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("report") / "run"
    result = run("evolve", "--run-dir", str(run_dir), "--initial", "4", "--population", "2", "--tournament", "2",
                 "--iterations", "2", "--steps", "15")
    assert result.exit_code == 0, result.output
    return run_dir


def test_report_is_one_self_contained_page(evolution_dir):
    result = run("report", str(evolution_dir))
    assert result.exit_code == 0
    page = (evolution_dir / "report.html").read_text()
    sources = re.findall(r'<img[^>]* src="([^"]+)"', page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(base64.b64decode(s.split(",", 1)[1]).startswith(PNG) for s in sources)
    assert "http://" not in page and "https://" not in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed")
def test_report_renders_in_headless_chromium_with_every_image_loaded(evolution_dir, tmp_path):
    page = (evolution_dir / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => document.body.setAttribute('data-loaded', "
             "[...document.images].filter(i => i.complete && i.naturalWidth > 0).length + '/' + document.images.length));"
             "</script></body>")
    copy = tmp_path / "probe.html"
    copy.write_text(page.replace("</body>", probe))
    result = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", "--no-first-run",
                             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
                             copy.as_uri()], capture_output=True, text=True, timeout=600)
    assert 'data-loaded="3/3"' in result.stdout
