"""A campaign: the paper's whole protocol (PROTOCOL.md) as the runs of one store.

    correlate              the correlation study: N random losses trained under each technique
    evolve-<technique>     one evolution per technique; its random phase is the study's losses
                           under that technique (reuse rows, never trained again), so its first
                           population is the study's best P
    eliminate-<technique>  the elimination protocol over that evolution's losses
    evaluate               the final evaluation (Tables 5-6): rows of stage final-<data set>
                           (final-<data set>+ls: trained with label smoothing)

Each stage reads the one before from the store and resumes where it stopped. The campaign's
configuration (its preset, data root and training overrides) is the store's `campaign` meta
entry, written when the directory is made: a campaign is only ever continued as it was made.

The final evaluation's rows of Tables 5-6: each technique's finalists, labelled by the
technique's initial and their rank in its elimination (B0 its best, ..., A2); CE; CE+LS (CE
with label smoothing); and "<best>+LS", the best finalist with label smoothing, where the best
is the finalist with the highest mean fitness in its elimination's last stage (over every
technique; ties: the earlier technique, then the better rank). Every row is trained under
every technique, on each data set of an evaluation preset, for each of several seeds.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from . import executors, presets, zoo
from .augment import TECHNIQUES
from .errors import ConfigError, SymlossError
from .genome import Genome
from .search import runs
from .search.driver import Pending, SearchContext
from .search.elimination import FINALISTS, Ranked
from .search.jobs import Candidate, Job, train_job
from .store import Store, StoreError
from .study.correlation import STUDY_RUN, run_study

META = "campaign"  # the store's meta entry holding the campaign's configuration (JSON)
EVALUATE_RUN = "evaluate"
DEFAULT_LABEL_SMOOTHING = 0.1  # of the "+LS" rows (PROTOCOL.md: unstated by the paper)
INITIALS = {technique: technique[0].upper() for technique in TECHNIQUES}  # B, C, M, R, A


def finalist_label(technique: str, rank: int) -> str:
    """The paper's name of a finalist: the technique's initial and its elimination rank (B0 .. A2)."""
    return f"{INITIALS[technique]}{rank}"


FINALIST_LABELS = tuple(finalist_label(t, rank) for t in TECHNIQUES for rank in range(FINALISTS))
BEST, BEST_LS = "best", "best+LS"  # in an evaluation set: the best finalist, and it with label smoothing
EVERY_LOSS = ("CE", "CE+LS", *FINALIST_LABELS, BEST_LS)


def evolve_run(technique: str) -> str:
    return f"evolve-{technique}"


def eliminate_run(technique: str) -> str:
    return f"eliminate-{technique}"


# ---- presets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationSet:
    dataset: str  # a name of symloss.data
    labels: tuple[str, ...] = EVERY_LOSS  # the rows: labels, BEST or BEST_LS


@dataclass(frozen=True)
class EvaluatePreset:
    """A final evaluation: which losses on which data sets, how trained, how many seeds."""

    name: str
    train: str  # the training preset (a set on another data set overrides its `dataset`)
    sets: tuple[EvaluationSet, ...]
    seeds: int = 3  # PROTOCOL.md: "several"; symloss's default
    first_seed: int = 100  # seeds apart from the elimination's, whose runs chose the finalists
    overrides: dict = field(default_factory=dict)  # training options of every run
    pretrained: bool = False  # fine-tuning: needs a weights file


BEST_ONLY = ("CE", "CE+LS", BEST, BEST_LS)
EVALUATE_PRESETS: dict[str, EvaluatePreset] = {p.name: p for p in (
    EvaluatePreset("paper-wrn", "paper-wrn", (EvaluationSet("cifar10"), EvaluationSet("cifar100"))),
    # PROTOCOL.md: Cars gets CE, CE+LS, C0-2, M0, M2, A0-2 and A2+LS (the paper's best, A2); the others the best
    EvaluatePreset("paper-effnet", "paper-effnet", (
        EvaluationSet("cars", ("CE", "CE+LS", "C0", "C1", "C2", "M0", "M2", "A0", "A1", "A2", BEST_LS)),
        EvaluationSet("flowers102", BEST_ONLY), EvaluationSet("caltech101", BEST_ONLY)), pretrained=True),
    EvaluatePreset("demo", "demo-large", (EvaluationSet("digits"),), overrides={"steps": 100}),
)}


FINE_TUNING_SETS = frozenset(s.dataset for p in EVALUATE_PRESETS.values() if p.pretrained for s in p.sets)
TABLES = (5, 6)  # the paper's final results: trained from scratch (Table 5), fine-tuned (Table 6)


def paper_table(column: str) -> int:
    """The paper's table of a results column "<data set> <technique>" (or "<data set>/..."): 6 for
    a fine-tuning data set, else 5."""
    return 6 if re.split(r"[ /]", column, maxsplit=1)[0].lower() in FINE_TUNING_SETS else 5


def split_tables(results: dict[str, dict[str, list[float]]]) -> dict[int, dict[str, dict[str, list[float]]]]:
    """results[label][column] as the paper's tables: {5: ..., 6: ...}, each holding its columns
    (a label without a column in a table is not a row of it; a table without columns is absent)."""
    split: dict[int, dict[str, dict[str, list[float]]]] = {}
    for label, columns in results.items():
        for column, values in columns.items():
            split.setdefault(paper_table(column), {}).setdefault(label, {})[column] = values
    return {table: split[table] for table in TABLES if table in split}


def evaluate_preset(name: str) -> EvaluatePreset:
    if name not in EVALUATE_PRESETS:
        raise ConfigError(f"unknown evaluation preset {name!r} (known: {', '.join(EVALUATE_PRESETS)})")
    return EVALUATE_PRESETS[name]


def final_stage(dataset: str, smoothed: bool) -> str:
    return f"final-{dataset}" + ("+ls" if smoothed else "")


def _count(value, least: int = 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


@dataclass(frozen=True)
class CampaignPreset:
    """The sizes of every stage (the study's losses are each evolution's random phase)."""

    name: str
    search: str  # a search preset: the training preset of the study and of the evolutions
    study_losses: int  # random losses of the study (paper: 1,000)
    top_k: int  # the study's best-k tau (paper: 50)
    population: int  # each evolution's population: the study's best (paper: 100)
    tournament: int
    iterations: int
    elimination: str  # an elimination preset
    evaluate: tuple[str, ...]  # the evaluation presets the campaign runs
    search_overrides: dict = field(default_factory=dict)  # training options of the study and the evolutions
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.evaluate, tuple):
            raise ConfigError("a campaign preset has a name and a tuple of evaluation presets")
        presets.search(self.search)
        runs.elimination_stages(self.elimination)
        for name in self.evaluate:
            evaluate_preset(name)
        sizes = (self.study_losses, self.top_k, self.population, self.tournament)
        if not all(map(_count, sizes)) or not _count(self.iterations, 0) or not _count(self.seed, 0):
            raise ConfigError("a campaign preset's sizes are positive integers (iterations and seed: from 0)")
        if self.population > self.study_losses:
            raise ConfigError(f"the population ({self.population}) is chosen from the study's "
                              f"{self.study_losses} losses")
        presets.check_overrides(self.search_overrides)

    @classmethod
    def from_dict(cls, document: dict) -> "CampaignPreset":
        """A preset as stored (JSON): anything else is a ConfigError or TypeError."""
        return cls(**{**document, "evaluate": tuple(document["evaluate"])})


CAMPAIGN_PRESETS: dict[str, CampaignPreset] = {p.name: p for p in (
    CampaignPreset("paper", "paper", study_losses=1_000, top_k=50, population=100, tournament=20, iterations=2_000,
                   elimination="paper", evaluate=("paper-wrn",)),
    # about 500 trainings: study 120 (150 steps), evolutions 45-100 (150), eliminations 125 (50 of 600
    # steps, 75 of 300 on the wide CNN), final evaluation up to 270 (100 steps, wide CNN); measured: 499
    # trainings in 18 min 10 s on 2 CPU cores with the auto (packed) executor under bf16
    CampaignPreset("demo", "demo", study_losses=24, top_k=8, population=6, tournament=3, iterations=8,
                   elimination="demo", evaluate=("demo",), search_overrides={"steps": 150}),
)}


def campaign_preset(preset: str | CampaignPreset) -> CampaignPreset:
    if isinstance(preset, CampaignPreset):
        return preset
    if preset not in CAMPAIGN_PRESETS:
        raise ConfigError(f"unknown campaign preset {preset!r} (known: {', '.join(CAMPAIGN_PRESETS)})")
    return CAMPAIGN_PRESETS[preset]


# ---- the campaign directory --------------------------------------------------------------------
@dataclass(frozen=True)
class Campaign:
    """An open campaign store and the configuration it was made with."""

    store: Store
    preset: CampaignPreset
    data_root: str | None
    overrides: dict  # training options of every stage (a quick look: {"steps": 20})

    def spec(self, technique: str) -> runs.EvolveSpec:
        """The evolution of `technique`: the study's losses, trained as the study trained them."""
        p = self.preset
        return runs.EvolveSpec(p.search, technique, p.seed, p.study_losses, p.population, p.tournament, p.iterations,
                               self.data_root, {**p.search_overrides, **self.overrides}, initial_from=STUDY_RUN)

    def require(self, preset: str | CampaignPreset | None, data_root: str | None, overrides: dict | None) -> None:
        """A ConfigError when what is given (None: nothing; overrides: each given option) is not what
        the campaign was made with."""
        name = preset.name if isinstance(preset, CampaignPreset) else preset
        where = self.store.directory
        if name is not None and name != self.preset.name:
            raise ConfigError(f"{where} is a campaign of preset {self.preset.name!r}, not {name!r}")
        if data_root is not None and data_root != self.data_root:
            raise ConfigError(f"{where} reads its data from {self.data_root}, not {data_root}")
        changed = {k: v for k, v in (overrides or {}).items() if k not in self.overrides or self.overrides[k] != v}
        if changed:
            raise ConfigError(f"{where} trains with the options {self.overrides}; {changed} cannot change them")


def load(store: Store) -> Campaign:
    """The campaign a store holds (its configuration read and checked): a StoreError when it holds none."""
    text = store.meta(META)
    if text is None:
        raise StoreError(f"{store.directory} is not a campaign directory (made by `symloss campaign`)")
    try:
        document = json.loads(text)
        preset = CampaignPreset.from_dict(document["preset"])
        data_root, overrides = document["data_root"], document["overrides"]
        if not isinstance(data_root, (str, type(None))) or not isinstance(overrides, dict):
            raise TypeError("data_root or overrides")
        presets.check_overrides(overrides)
    except (ValueError, TypeError, KeyError, RecursionError, SymlossError) as error:
        raise StoreError(f"{store.path}: its campaign configuration is not one this version reads ({error})") from None
    return Campaign(store, preset, data_root, overrides)


def _make(store: Store, preset: str | CampaignPreset | None, data_root: str | None, overrides: dict | None) -> None:
    """Write the configuration of a new campaign into an empty store."""
    if store.runs():
        raise ConfigError(f"{store.directory} holds runs but no campaign: give a new directory")
    chosen = campaign_preset(preset or "demo")
    presets.check_overrides(overrides or {})
    document = {"preset": asdict(chosen), "data_root": data_root, "overrides": overrides or {}}
    store.set_meta(META, json.dumps(document, sort_keys=True))


@contextmanager
def open_campaign(directory: str | Path, preset: str | CampaignPreset | None = None, data_root: str | None = None,
                  overrides: dict | None = None, create: bool = False) -> Iterator[Campaign]:
    """The campaign in `directory`; `create`: made there (preset default demo) when there is none.
    What is given (not None) must be what the campaign was made with: a ConfigError otherwise."""
    with Store(directory, create=create) as store:
        if create and store.meta(META) is None:
            _make(store, preset, data_root, overrides)
        campaign = load(store)
        campaign.require(preset, data_root, overrides)
        yield campaign


# ---- the stages ------------------------------------------------------------------------------
Progress = Callable[[dict], None]


def _require_done(store: Store, name: str, command: str) -> dict:
    run = store.run(name)
    if run is None or run["status"] != "done":
        raise ConfigError(f"{store.directory}: {name} has not finished (run `{command}`)")
    return run


def _reporter(name: str, progress: Progress | None, done: int, total: int | None) -> Progress | None:
    """`progress`, told {"stage", "done", "total", "fitness"} once per result of the stage `name`
    (`done` of `total` before the first)."""
    if progress is None:
        return None
    count = [done]

    def report(row: dict) -> None:
        count[0] += 1
        progress({"stage": name, "done": count[0], "total": total, **row})
    return report


def _stage_reporter(campaign: Campaign, name: str, progress: Progress | None) -> Progress | None:
    """_reporter of the study, an evolution or an elimination, counting on from where it stands."""
    state = stage_status(campaign, name)
    return _reporter(name, progress, state.done, state.total)


def run_study_stage(campaign: Campaign, executor: executors.ExecutorLike = 1, progress: Progress | None = None,
                    fn=train_job) -> None:
    """The correlation study: the preset's random losses under every technique."""
    p = campaign.preset
    run_study(campaign.store, p.study_losses, TECHNIQUES, presets.search(p.search).train, p.seed, p.top_k, executor,
              {**p.search_overrides, **campaign.overrides}, campaign.data_root,
              _stage_reporter(campaign, STUDY_RUN, progress), fn)


def run_evolution_stage(campaign: Campaign, technique: str, executor: executors.ExecutorLike = 1,
                        progress: Progress | None = None, fn=train_job) -> list:
    """The evolution of `technique`, from the study's losses; returns its final population."""
    store = campaign.store
    _require_done(store, STUDY_RUN, f"symloss correlate --campaign {store.directory}")
    spec = campaign.spec(_technique(technique))
    run_id = runs.evolution_run(store, spec, evolve_run(technique))
    report = _stage_reporter(campaign, evolve_run(technique), progress)
    return runs.run_evolution(store, run_id, spec, executor, report, fn)


def run_elimination_stage(campaign: Campaign, technique: str, executor: executors.ExecutorLike = 1,
                          progress: Progress | None = None, fn=train_job) -> list[Ranked]:
    """The elimination protocol over the evolution of `technique`; returns its finalists."""
    store = campaign.store
    run = _require_done(store, evolve_run(_technique(technique)),
                        f"symloss evolve --campaign {store.directory} --technique {technique}")
    return runs.run_elimination(store, run["id"], campaign.spec(technique), campaign.preset.elimination, executor,
                                _stage_reporter(campaign, eliminate_run(technique), progress), fn, campaign.overrides,
                                eliminate_run(technique))


def _technique(technique: str) -> str:
    if technique not in TECHNIQUES:
        raise ConfigError(f"unknown augmentation technique {technique!r} (known: {', '.join(TECHNIQUES)})")
    return technique


def finalists(store: Store, technique: str) -> list[Ranked]:
    """(key, genome, mean fitness, runs) of the finalists of `technique`'s finished elimination,
    best first: the first FINALISTS of its last stage's ranking."""
    campaign = load(store)
    return runs.elimination_finalists(store, campaign.spec(_technique(technique)), campaign.preset.elimination,
                                      eliminate_run(technique), campaign.overrides)


def elimination_taus(store: Store) -> dict[str, tuple[float, int]]:
    """Per technique with an elimination: Kendall's tau between its stage 1 and stage 2 (Section
    4.1), and over how many losses."""
    preset = load(store).preset.elimination
    return {t: runs.elimination_tau(store, preset, eliminate_run(t)) for t in TECHNIQUES
            if store.run(eliminate_run(t)) is not None}


# ---- the final evaluation -------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """A row of Tables 5-6: a loss, trained with or without the evaluation's label smoothing."""

    label: str
    key: str
    genome: dict
    smoothed: bool


def entries(store: Store) -> dict[str, Entry]:
    """What each label of an evaluation set names (finalists, CE, CE+LS, BEST, BEST_LS): the
    finalists of every technique's finished elimination (a ConfigError when one has not finished)."""
    missing = [t for t in TECHNIQUES if (store.run(eliminate_run(t)) or {}).get("status") != "done"]
    if missing:
        raise ConfigError(f"{store.directory}: the final evaluation needs every technique's finalists; "
                          f"the elimination of {', '.join(missing)} has not finished")
    found: dict[str, Entry] = {}
    ranked: list[tuple[str, Ranked]] = []
    for technique in TECHNIQUES:
        for rank, finalist in enumerate(finalists(store, technique)):
            label = finalist_label(technique, rank)
            found[label] = Entry(label, finalist.key, finalist.genome, False)
            ranked.append((label, finalist))
    ce = Candidate(zoo.ce_genome())
    found["CE"] = Entry("CE", ce.key, ce.genome.to_dict(), False)
    found["CE+LS"] = Entry("CE+LS", ce.key, ce.genome.to_dict(), True)
    if ranked:
        best = found[max(ranked, key=lambda pair: pair[1].fitness)[0]]  # max keeps the first of equals
        found[BEST] = best
        found[BEST_LS] = Entry(f"{best.label}+LS", best.key, best.genome, True)
    return found


def _smoothing(store: Store, asked: float | None) -> float:
    """The final evaluation's label smoothing: the evaluate run's (`asked` must be None or the
    same), or `asked` for a new one (None: the default)."""
    run = store.run(EVALUATE_RUN)
    value = DEFAULT_LABEL_SMOOTHING if asked is None else asked
    if run is not None:
        value = run["config"].get("label_smoothing")
        if asked is not None and asked != value:
            raise ConfigError(f"{store.directory}: its final evaluation smooths labels by {value}, not {asked}")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1:
        raise (ConfigError if run is None else StoreError)(
            f"{store.directory}: label smoothing is a number between 0 and 1, not {value!r:.40}")
    return value


def _evaluation_run(store: Store, smoothing: float) -> int:
    """The id of the evaluate run (made with its label smoothing when there is none), marked running."""
    run = store.run(EVALUATE_RUN)
    if run is None:
        return store.create_run("evaluate", EVALUATE_RUN, {"label_smoothing": smoothing}, 0)
    store.set_status(run["id"], "running")
    return run["id"]


def evaluation_plan(campaign: Campaign, preset: EvaluatePreset, seeds: int, label_smoothing: float,
                    weights: str | None = None) -> dict[str, list[tuple[Candidate, Job]]]:
    """Each stage's trainings, one per distinct (setting, loss): every entry of each set, under
    every technique, for each seed (in that order, so that a setting's losses pack together)."""
    found = entries(campaign.store)
    candidates = {entry.key: Candidate(Genome.from_dict(entry.genome)) for entry in found.values()}
    base = presets.get(preset.train)
    plan: dict[str, list[tuple[Candidate, Job]]] = {}
    for evaluation_set in preset.sets:
        chosen = [found[label] for label in evaluation_set.labels if label in found]
        for smoothed in (False, True):
            options = {**preset.overrides, **campaign.overrides,
                       **({"dataset": evaluation_set.dataset} if evaluation_set.dataset != base.dataset else {}),
                       **({"label_smoothing": label_smoothing} if smoothed else {}),
                       **({"weights": weights} if weights else {})}
            jobs: dict[tuple[str, str], tuple[Candidate, Job]] = {}
            for technique in TECHNIQUES:
                for seed in range(preset.first_seed, preset.first_seed + seeds):
                    for entry in (e for e in chosen if e.smoothed == smoothed):
                        candidate = candidates[entry.key]
                        job = Job.of(candidate, technique, preset.train, seed, campaign.data_root,
                                     tuple(sorted(options.items())))
                        jobs.setdefault((job.setting, entry.key), (candidate, job))
            plan[final_stage(evaluation_set.dataset, smoothed)] = list(jobs.values())
    return plan


def run_final_evaluation(campaign: Campaign, preset: str, executor: executors.ExecutorLike = 1,
                         progress: Progress | None = None, fn=train_job, seeds: int | None = None,
                         label_smoothing: float | None = None, weights: str | None = None) -> None:
    """The final evaluation of an evaluation preset, as rows of the evaluate run (resumable; more
    seeds later add their runs)."""
    chosen = evaluate_preset(preset)
    if chosen.pretrained and not weights:
        raise ConfigError(f"the {preset} evaluation fine-tunes from ImageNet weights: give a weights file")
    if seeds is not None and not _count(seeds):
        raise ConfigError(f"seeds must be a positive integer, not {seeds!r:.40}")
    store = campaign.store
    smoothing = _smoothing(store, label_smoothing)
    plan = evaluation_plan(campaign, chosen, seeds or chosen.seeds, smoothing, weights)
    run_id = _evaluation_run(store, smoothing)
    done = {(e.stage, e.setting, e.key) for e in store.evaluations(run_id)}
    todo = {stage: [(c, job) for c, job in jobs if (stage, job.setting, c.key) not in done]
            for stage, jobs in plan.items()}
    planned, left = sum(map(len, plan.values())), sum(map(len, todo.values()))
    report = _reporter(EVALUATE_RUN, progress, planned - left, planned)
    with executors.running(executor) as running:
        ctx = SearchContext(store, run_id, None, running, fn, report)  # jobs are made here, not by the context
        for stage, jobs in todo.items():
            ctx.run(stage, lambda jobs=iter(jobs): _next_pending(ctx, jobs))
    store.set_status(run_id, "done")


def _next_pending(ctx: SearchContext, todo: Iterator[tuple[Candidate, Job]]) -> Pending | None:
    item = next(todo, None)
    return None if item is None else ctx.pending(item[0], item[1], (item[0], None))


def final_results(store: Store, preset: str | None = None) -> dict[str, dict[str, list[float]]]:
    """results[label][column] = the fitness of each seed, column "<data set> <technique>", of the
    evaluation preset `preset` (None: every one); `study.summarise` gives their mean and std."""
    run = store.run(EVALUATE_RUN)
    rows = store.evaluations(run["id"]) if run else []
    found = entries(store) if rows else {}
    chosen = [evaluate_preset(preset)] if preset else list(EVALUATE_PRESETS.values())
    results: dict[str, dict[str, list[float]]] = {}
    for evaluation_set in (s for p in chosen for s in p.sets):
        for entry in (found[label] for label in evaluation_set.labels if label in found):
            stage = final_stage(evaluation_set.dataset, entry.smoothed)
            for technique in TECHNIQUES:
                values = [e.fitness for e in rows if (e.stage, e.key, e.technique) == (stage, entry.key, technique)]
                if values:
                    results.setdefault(entry.label, {})[f"{evaluation_set.dataset} {technique}"] = values
    return results


# ---- the whole campaign ----------------------------------------------------------------------------
@dataclass(frozen=True)
class StageStatus:
    run: str  # the stage's run: correlate, evolve-<technique>, eliminate-<technique>, evaluate
    state: str  # "not started", "unfinished" or "done"
    done: int  # results recorded (an evolution: random losses, finished iterations and its CE baseline)
    total: int | None  # results planned (None: not known before the stages it reads have finished)


def stage_status(campaign: Campaign, name: str) -> StageStatus:
    store, p = campaign.store, campaign.preset
    run = store.run(name)
    state = "not started" if run is None else "done" if run["status"] == "done" else "unfinished"
    if name == STUDY_RUN:
        done, total = _rows(store, run), p.study_losses * len(TECHNIQUES)
    elif name.startswith("evolve-"):
        spec = campaign.spec(name.removeprefix("evolve-"))
        done, total = (runs.completed(store, run["id"]) if run else 0), runs.total_evaluations(spec)
    elif name.startswith("eliminate-"):
        done, total = _rows(store, run), runs.elimination_size(p.elimination)
    else:
        done, total = _rows(store, run), _planned(campaign)
    return StageStatus(name, state, done, total)


def _rows(store: Store, run: dict | None) -> int:
    return len(store.evaluations(run["id"])) if run else 0


def _planned(campaign: Campaign) -> int | None:
    """The trainings of the campaign's final evaluations (None before every elimination has finished)."""
    smoothing = _smoothing(campaign.store, None)
    try:
        return sum(len(jobs) for name in campaign.preset.evaluate
                   for jobs in evaluation_plan(campaign, evaluate_preset(name), evaluate_preset(name).seeds,
                                               smoothing).values())
    except ConfigError:  # an elimination has not finished
        return None


def stage_names() -> list[str]:
    return ([STUDY_RUN] + [evolve_run(t) for t in TECHNIQUES] + [eliminate_run(t) for t in TECHNIQUES]
            + [EVALUATE_RUN])


def status(store: Store) -> list[StageStatus]:
    """Where each stage of the campaign in `store` stands, in the order they run."""
    campaign = load(store)
    return [stage_status(campaign, name) for name in stage_names()]


def run_campaign(directory: str | Path, preset: str | CampaignPreset | None = None,
                 executor: executors.ExecutorLike = 1, progress: Progress | None = None,
                 overrides: dict | None = None, data_root: str | None = None, fn=train_job) -> list[StageStatus]:
    """Run (or resume) every stage of the campaign in `directory`, made there with `preset` (None:
    demo), `data_root` and training `overrides` when it holds none; returns where each stage stands."""
    with open_campaign(directory, preset, data_root, overrides, create=True) as campaign, \
            executors.running(executor) as running:
        run_study_stage(campaign, running, progress, fn)
        for technique in TECHNIQUES:
            run_evolution_stage(campaign, technique, running, progress, fn)
        for technique in TECHNIQUES:
            run_elimination_stage(campaign, technique, running, progress, fn)
        for name in campaign.preset.evaluate:
            run_final_evaluation(campaign, name, running, progress, fn)
        return status(campaign.store)
