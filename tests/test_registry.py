"""The one registry helper behind domains, generators, pair strategies and isolation backends."""

import json
import sys

import pytest

from codealign.errors import UserError
from codealign.registry import Registry

GROUP = "codealign.test_registry_things"


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    """A folder on ``sys.path`` holding an installed distribution's metadata whose entry points go in ``GROUP``."""
    def install(**entries):
        info = tmp_path / "codealign_things-0.1.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: codealign-things\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(
            f"[{GROUP}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items()))
        monkeypatch.syspath_prepend(str(tmp_path))

    return install


def test_an_unknown_name_is_one_line_naming_the_closest():
    things = Registry("thing")
    things.register("docker", object())
    things.register("bwrap", object())
    with pytest.raises(UserError) as caught:
        things.get("dockr")
    assert str(caught.value) == "unknown thing 'dockr'; did you mean 'docker'?"


def test_a_plugin_registered_by_entry_point_is_listed_after_the_builtins_and_loads(plugin_site):
    plugin_site(dumper="json:dumps")
    things = Registry("thing", GROUP)
    things.register("builtin", "json:loads")
    assert things.names() == ("builtin", "dumper")
    assert things.get("dumper") is json.dumps and things.get("builtin") is json.loads


def test_a_builtin_is_listed_once_even_when_an_entry_point_repeats_it(plugin_site):
    plugin_site(builtin="json:dumps")
    things = Registry("thing", GROUP)
    things.register("builtin", "json:loads")
    assert things.names() == ("builtin",) and things.get("builtin") is json.loads


def test_registering_a_name_twice_is_refused():
    things = Registry("thing")
    things.register("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        things.register("a", 2)


def test_the_cli_offers_exactly_the_registered_backends_strategies_and_generators():
    from codealign.cli import build_parser
    from codealign.generate import GENERATORS
    from codealign.pairs import STRATEGIES
    from codealign.sandbox.backends import backend_names

    commands = build_parser()._subparsers._group_actions[0].choices

    def choices(command, flag):
        return list(next(a for a in commands[command]._actions if flag in a.option_strings).choices)

    assert choices("execute", "--backend") == choices("doctor", "--backend") == list(backend_names())
    assert sorted(choices("pairs", "--strategy")) == sorted(STRATEGIES.names())
    assert choices("generate", "--generator") == list(GENERATORS.names())


def test_the_builtin_domains_are_registered_by_the_code_only_not_again_as_entry_points():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    assert "codealign.domains" not in project.get("entry-points", {})


def test_a_backend_plugin_registered_by_entry_point_is_a_cli_choice(tmp_path):
    import os
    import subprocess

    info = tmp_path / "codealign_fakevisor-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: codealign-fakevisor\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[codealign.backends]\nfakevisor = codealign.sandbox.process:ProcessBackend\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "codealign.cli", "doctor", "--backend", "nope"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert proc.returncode == 2 and "'docker', 'fakevisor')" in proc.stderr, proc.stderr
