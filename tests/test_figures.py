"""The figure scripts (figures/*.py) on runs made here with the stand-in trainer: each writes its
file from the losses PROTOCOL.md's figure shows, leaves the run directory as it was, and says in
its title or caption where the losses come from."""
import contextlib
import hashlib
import io
import json
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from figure_probe import probing
from standin import standin_job
from symloss import Genome, Loss, campaign, phenotype
from symloss.augment import TECHNIQUES
from symloss.render import tables
from symloss.search import runs
from symloss.store import Store
from symloss.study import run_study

ROOT = Path(__file__).resolve().parents[1]
PNG, PDF, TABLE = b"\x89PNG\r\n\x1a\n", b"%PDF", b"\\begin{table}"
SEARCH_NOTE, FINALIST_NOTE = "top of the search, not elimination finalists", "elimination finalists"


# ---- runs, made once per module ---------------------------------------------------------
TINY_CAMPAIGN = campaign.CampaignPreset("tiny", "demo", study_losses=10, top_k=4, population=4, tournament=2,
                                        iterations=2, elimination="demo", evaluate=("demo",))


def evolve(run_dir: Path, technique: str) -> Path:
    spec = runs.EvolveSpec(technique=technique, initial=6, population=3, tournament=2, iterations=4)
    store, run_id = runs.start(run_dir, spec)
    with store:
        runs.run_evolution(store, run_id, spec, fn=standin_job)
    return run_dir


@pytest.fixture(scope="module")
def bare_run(tmp_path_factory):
    return evolve(tmp_path_factory.mktemp("bare") / "run", "base")


@pytest.fixture(scope="module")
def campaign_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("campaign") / "run"
    campaign.run_campaign(run_dir, TINY_CAMPAIGN, fn=standin_job)
    return run_dir


@pytest.fixture(scope="module")
def study_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("study") / "run"
    with Store(run_dir, create=True) as store:
        run_study(store, 8, TECHNIQUES, "demo", 0, top_k=4, fn=standin_job)
    return run_dir


@pytest.fixture(params=["bare", "campaign"])
def shown(request):
    """(run directory, what its figures should show) of a bare evolve run, then of a campaign."""
    run_dir = request.getfixturevalue(f"{request.param}_run")
    return run_dir, expected(run_dir)


@dataclass
class Expected:
    losses: list[tuple[str, str, float, Loss]]  # (label, technique, fitness, loss) in the figures' order
    note: str

    @property
    def best(self) -> tuple[str, str, float, Loss]:
        return max(self.losses, key=lambda entry: entry[2])  # the first of equals

    def of(self, technique: str) -> list[tuple[str, str, float, Loss]]:
        return [entry for entry in self.losses if entry[1] == technique]


def expected(run_dir: Path) -> Expected:
    """A campaign's elimination finalists (as symloss.campaign gives them, B0 .. A2), or a bare
    run's 3 best searched losses ("base #1" ..)."""
    with Store.open_read_only(run_dir) as store:
        bare = store.run(runs.EVOLVE_RUN)
        if bare is not None:
            technique = bare["config"]["technique"]
            return Expected([(f"{technique} #{rank}", technique, e.fitness, store.loss(e)) for rank, e
                             in enumerate(runs.top(store, bare["id"], 3), 1)], SEARCH_NOTE)
        return Expected([(f"{campaign.INITIALS[t]}{rank}", t, f.fitness, Loss.from_genome(Genome.from_dict(f.genome)))
                         for t in TECHNIQUES for rank, f in enumerate(campaign.finalists(store, t))], FINALIST_NOTE)


def snapshot(directory: Path) -> dict:
    """Every file's bytes and times, and the directory's own time (a file made and removed shows)."""
    files = {str(p.relative_to(directory)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
             for p in sorted(directory.rglob("*")) if p.is_file()}
    return {"files": files, "directory": directory.stat().st_mtime_ns}


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str


def script(name: str, *args, cwd: Path, probe: Path | None = None) -> Finished:
    """figures/<name> with `args`, run in this process as `python figures/<name>` runs it there
    (argv, cwd, the script's folder first on sys.path; SystemExit as its exit status and message);
    with `probe`, recording what it drew there."""
    path, saved_path, saved_argv = ROOT / "figures" / name, sys.path[:], sys.argv
    out, err, status = io.StringIO(), io.StringIO(), 0
    sys.modules.pop("common", None)  # figures/common.py, not another folder's
    with contextlib.chdir(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            (probing(probe) if probe else contextlib.nullcontext()):
        sys.argv, sys.path[:0] = [str(path), *args], [str(path.parent)]
        try:
            runpy.run_path(str(path), run_name="__main__")
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
            if isinstance(exit_.code, str):
                print(exit_.code, file=err)
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path
            sys.modules.pop("common", None)
    return Finished(status, out.getvalue(), err.getvalue())


def drawn(name: str, run_dir: Path, tmp_path: Path, out: str) -> list[dict]:
    """What the script drew from `run_dir`; its file (or files) written, the run directory unchanged."""
    before, target, record = snapshot(run_dir), tmp_path / out, tmp_path / "record.json"
    result = script(name, "--run-dir", str(run_dir), "--out", str(target), cwd=tmp_path, probe=record)
    assert result.returncode == 0, result.stderr
    pictures = sorted(target.iterdir()) if target.is_dir() else [target]
    assert pictures and all(p.read_bytes().startswith(PDF if p.suffix == ".pdf" else PNG) for p in pictures)
    assert snapshot(run_dir) == before
    return json.loads(record.read_text())


def grid_ce(y, yhat):
    return -y * np.log(np.abs(yhat) + 1e-7)  # the protected log of symloss's CE


def min_max(values):
    values = np.asarray(values, dtype=np.float64)
    return (values - values.min()) / (values.max() - values.min())


def assert_phenotypes(picture: dict, losses: list[tuple[str, str, float, Loss]], note: str):
    """A binary phenotype figure of exactly `losses` and CE: raw, and min-max normalised."""
    raw, scaled = picture["plots"]
    curves = {label: loss.binary_curve() for label, _, _, loss in losses}
    curves["CE"] = -np.log(1 - phenotype.binary_p() + 1e-7)
    assert [line["label"] for line in raw["lines"]] == [line["label"] for line in scaled["lines"]] == list(curves)
    for drawn_raw, drawn_scaled in zip(raw["lines"], scaled["lines"]):
        np.testing.assert_allclose(drawn_raw["y"], curves[drawn_raw["label"]], rtol=1e-9)
        np.testing.assert_allclose(drawn_scaled["y"], min_max(drawn_raw["y"]), atol=1e-12)
    assert note in picture["suptitle"]


def surface_of(picture: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    (surface,) = picture["surfaces"]
    return np.array(surface["y"]), np.array(surface["yhat"]), np.array(surface["values"]), surface["title"]


POINTS = [(0, 0), (0, 50), (10, 40), (25, 25), (37, 12), (50, 1), (50, 50)]  # of the 51 x 51 grid


# ---- the correlation study (every other script is checked on what it shows, below) ------------
@pytest.mark.parametrize("name, out, magic", [
    ("table3.py", "t3.tex", TABLE), ("figure3.py", "f3.png", PNG), ("figure4.py", "f4.pdf", PDF),
])
def test_study_scripts_write_their_file_and_leave_the_run_unchanged(name, out, magic, study_run, tmp_path):
    before = snapshot(study_run)
    result = script(name, "--run-dir", str(study_run), "--out", str(tmp_path / out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / out).read_bytes().startswith(magic)
    assert snapshot(study_run) == before


def test_table3_of_a_campaign_takes_its_presets_best_k(campaign_run, tmp_path):
    result = script("table3.py", "--run-dir", str(campaign_run), "--out", str(tmp_path / "t3.tex"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    caption = (tmp_path / "t3.tex").read_text()
    assert f"over all {TINY_CAMPAIGN.study_losses} losses and over the best {TINY_CAMPAIGN.top_k} of" in caption


def test_a_directory_that_is_no_run_is_one_line_of_error(tmp_path):
    command = [sys.executable, str(ROOT / "figures" / "figure5.py"), "--run-dir", str(tmp_path), "--out", "f.png"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)  # as a user runs it
    assert result.returncode == 1 and "not a symloss run directory" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "store.sqlite").exists()


# ---- what each shows: a campaign's finalists, or the top of a bare run's search ------------------
def test_table4_gives_the_equations_of_the_finalists(shown, tmp_path):
    run_dir, want = shown
    before = snapshot(run_dir)
    result = script("table4.py", "--run-dir", str(run_dir), "--out", str(tmp_path / "t4.tex"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    latex = (tmp_path / "t4.tex").read_text()
    assert latex.startswith(r"\begin{table}") and rf"\caption{{Equations of the {want.note} " in latex
    rows = [line for line in latex.splitlines() if line.endswith(r"\\") and "Equation" not in line]
    assert len(rows) == len(want.losses) == (3 if want.note == SEARCH_NOTE else 15)
    for row, (label, _, fitness, loss) in zip(rows, want.losses):
        assert row == f"{tables.escape(label)} ({fitness:.4f}) & ${loss.latex()}$ \\\\"
    assert snapshot(run_dir) == before


def test_figure5_shows_the_finalists_raw_and_normalised_with_ce(shown, tmp_path):
    run_dir, want = shown
    (picture,) = drawn("figure5.py", run_dir, tmp_path, "f5.png")
    assert_phenotypes(picture, want.losses, want.note)


def test_figure6_is_the_surface_of_cross_entropy(bare_run, tmp_path):
    (picture,) = drawn("figure6.py", bare_run, tmp_path, "f6.pdf")
    y, yhat, values, title = surface_of(picture)
    np.testing.assert_allclose(values, grid_ce(y, yhat), rtol=1e-9, atol=1e-12)
    assert title == "CE"


def test_figure7_is_the_surface_of_the_best_loss(shown, tmp_path):
    run_dir, want = shown
    (picture,) = drawn("figure7.py", run_dir, tmp_path, "f7.png")
    _, _, values, title = surface_of(picture)
    label, _, _, best = want.best
    np.testing.assert_allclose(values, phenotype.surface(best.term())[2], rtol=1e-12)
    others = [loss for other, _, _, loss in want.losses if other != label]
    assert not any(np.allclose(values, phenotype.surface(loss.term())[2]) for loss in others[:2])
    assert title.startswith(label) and want.note in title


def test_figure8_is_normalised_best_minus_normalised_cross_entropy(shown, tmp_path):
    run_dir, want = shown
    (picture,) = drawn("figure8.py", run_dir, tmp_path, "f8.png")
    y, yhat, values, title = surface_of(picture)
    label, _, _, best = want.best
    raw = phenotype.surface(best.term())[2]
    assert np.all(np.isfinite(raw)) and np.ptp(raw) > 1e-3
    difference = min_max(raw) - min_max(grid_ce(y, yhat))
    for i, j in POINTS:
        assert values[i, j] == pytest.approx(difference[i, j], abs=1e-9), (i, j)
    assert label in title and want.note in title


def test_the_campaigns_best_is_the_highest_elimination_mean_not_the_first_finalist(campaign_run):
    want = expected(campaign_run)
    assert want.best[0] != want.losses[0][0]  # so figures 7 and 8 tell the best from the first


def test_an_unfinished_elimination_leaves_its_technique_out(campaign_run, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(campaign_run, run_dir)
    with Store(run_dir) as store:
        store.set_status(store.run(campaign.eliminate_run("all"))["id"], "running")
    (picture,) = drawn("figure5.py", run_dir, tmp_path, "f5.png")
    want = expected(campaign_run)
    assert_phenotypes(picture, [entry for entry in want.losses if entry[1] != "all"], FINALIST_NOTE)


def test_appendix_draws_each_techniques_phenotypes_then_its_surfaces_at_its_place(shown, tmp_path):
    run_dir, want = shown
    record = drawn("appendix.py", run_dir, tmp_path, "appendix")
    techniques = [t for t in TECHNIQUES if want.of(t)]
    assert techniques == (["base"] if want.note == SEARCH_NOTE else list(TECHNIQUES))
    numbers = [n for t in techniques for n in range(9 + 4 * TECHNIQUES.index(t), 13 + 4 * TECHNIQUES.index(t))]
    names = [f"figure{n}.png" for n in numbers]
    assert sorted(p.name for p in (tmp_path / "appendix").iterdir()) == sorted(names)
    assert [Path(picture["path"]).name for picture in record] == names
    for index, technique in enumerate(techniques):
        phenotypes, *surfaces = record[4 * index:4 * index + 4]
        assert_phenotypes(phenotypes, want.of(technique), want.note)
        for (label, _, _, loss), picture in zip(want.of(technique), surfaces, strict=True):
            _, _, values, title = surface_of(picture)
            np.testing.assert_allclose(values, phenotype.surface(loss.term())[2], rtol=1e-12)
            assert title.startswith(label) and want.note in title


def test_appendix_puts_a_technique_at_its_own_numbers(tmp_path):
    run_dir = evolve(tmp_path / "run", "mixup")
    drawn("appendix.py", run_dir, tmp_path, "appendix")
    assert sorted(p.name for p in (tmp_path / "appendix").iterdir()) == [f"figure{n}.png" for n in (17, 18, 19, 20)]


# ---- tables 5-6 ----------------------------------------------------------------------------
def body_rows(latex: str) -> list[list[str]]:
    return [line.removesuffix(r" \\").split(" & ") for line in latex.splitlines() if " & " in line]


def test_results_tables_script_splits_a_json_file_into_tables_5_and_6(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"CE": {"cifar10 base": [0.94, 0.95], "cars base": [0.90, 0.92]},'
                    ' "L1": {"cifar10 base": [0.96, 0.95]}}')
    result = script("tables5_6.py", "--results", str(path), "--out", str(tmp_path / "t"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    table5, table6 = ((tmp_path / "t" / name).read_text() for name in ("table5.tex", "table6.tex"))
    assert body_rows(table5) == [["Loss", "cifar10 base"], ["CE", "94.500 $\\pm$ 0.707"],
                                 ["L1", "\\textbf{95.500 $\\pm$ 0.707}"]]
    assert body_rows(table6) == [["Loss", "cars base"], ["CE", "\\textbf{91.000 $\\pm$ 1.414}"]]
    assert "trained from scratch" in table5 and "fine-tuned" in table6


def test_results_tables_of_a_bare_run_train_ce_and_the_top_of_its_search(bare_run, tmp_path):
    before = snapshot(bare_run)
    result = script("tables5_6.py", "--run-dir", str(bare_run), "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    latex = (tmp_path / "table5.tex").read_text()
    assert [row[0] for row in body_rows(latex)][1:] == ["CE", "CE+LS", r"base \#1", r"base \#2", r"base \#3"]
    assert SEARCH_NOTE in latex and snapshot(bare_run) == before
    assert not (tmp_path / "table6.tex").exists()  # nothing fine-tuned


def test_results_tables_of_a_campaign_are_its_final_evaluation(campaign_run, tmp_path):
    with Store.open_read_only(campaign_run) as store:
        results = campaign.final_results(store)
    before = snapshot(campaign_run)
    result = script("tables5_6.py", "--run-dir", str(campaign_run), "--out", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    latex = (tmp_path / "table5.tex").read_text()
    cells = body_rows(latex)
    assert [row[0] for row in cells[1:]] == [tables.escape(label) for label in results] and len(results) == 18
    ce = 100 * np.array(results["CE"][cells[0][1]])  # the first column
    assert cells[1][1].removeprefix(r"\textbf{").startswith(f"{ce.mean():.3f} $\\pm$ {ce.std(ddof=1):.3f}")
    assert r"\caption{Final evaluation of the elimination finalists" in latex and snapshot(campaign_run) == before


# ---- no run directory: a small run on the embedded data --------------------------------------
@pytest.mark.parametrize("name, out, magic", [
    ("table3.py", "t3.tex", TABLE), ("figure3.py", "f3.png", PNG), ("figure5.py", "f5.png", PNG),
])
def test_scripts_make_a_small_run_when_given_none(name, out, magic, tmp_path_factory):
    workdir = tmp_path_factory.getbasetemp() / "figures-workdir"  # shared: each small run is made once
    workdir.mkdir(exist_ok=True)
    result = script(name, "--out", str(workdir / out), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert (workdir / out).read_bytes().startswith(magic)
