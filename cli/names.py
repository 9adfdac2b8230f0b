"""The option choices that live in heavy library modules (torch, torchvision, scipy), copied
here so that parsing the command line and printing its help import none of them.

tests/test_cli_imports.py checks that each copy equals the library's own list."""
from __future__ import annotations

KINDS = ("auto", "local", "packed", "ray")  # symloss.executors.KINDS (light, but multiprocessing is not)
TECHNIQUES = ("base", "cutout", "mixup", "randaug", "all")  # symloss.augment.TECHNIQUES
DATASETS = ("digits", "cifar10", "cifar100", "cars", "flowers102", "caltech101", "imagefolder")  # symloss.data.NAMES
ELIMINATION_PRESETS = ("paper", "demo")  # the keys of symloss.search.elimination.ELIMINATION_PRESETS
TABLE_FORMATS = ("latex", "markdown", "text")  # symloss.render.tables.FORMATS
EXPORT_FORMATS = ("torch", "python", "latex", "sympy", "json")  # the keys of symloss.export.FORMATS
CAMPAIGN_PRESETS = ("paper", "demo")  # the keys of symloss.campaign.CAMPAIGN_PRESETS
EVALUATE_PRESETS = ("paper-wrn", "paper-effnet", "demo")  # the keys of symloss.campaign.EVALUATE_PRESETS
