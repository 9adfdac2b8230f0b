"""The README's Quickstart is what CI runs."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quickstart_commands():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quickstart_has_exactly_two_commands():
    commands = quickstart_commands()
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    main_job, tests = commands
    assert "pip install" in main_job and "symloss " in main_job
    assert "pip install" in tests and "pytest" in tests


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert quickstart_commands()[1] in ci.splitlines()
    assert "-eq 5" in ci  # pytest's "no tests" must fail CI


def test_readme_lists_every_command():
    from symloss_cli.main import main

    readme = (ROOT / "README.md").read_text()
    for name in main.commands:
        assert f"`symloss {name}" in readme, name
