"""The judge fingerprint (``Domain.fingerprint``): it follows the judge's code and assets, the toolchain, the
backend and the domain options, and nothing else."""

import importlib.util
import os
import shutil
import sys
import uuid

import pytest

from codealign.domains import draws
from codealign.domains.base import DomainOption, code_hash

sys.path.insert(0, os.path.dirname(__file__))
from shell_domain import ShellDomain  # noqa: E402

TOY = os.path.join(os.path.dirname(__file__), "toy_domain", "codealign_toy")


class FlavouredShell(ShellDomain):
    options = (DomainOption("flavour", "a harmless option", "plain"),)

    def __init__(self, flavour: str = "plain", toolchain: str = ""):
        self.flavour = flavour
        self.toolchain = toolchain

    def toolchain_version(self) -> str:
        return self.toolchain


@pytest.fixture
def toy_copy(tmp_path):
    """A copy of the toy domain package under a fresh name, and a function that loads its domain anew."""
    name = f"codealign_toy_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    shutil.copytree(TOY, folder, ignore=shutil.ignore_patterns("__pycache__"))

    def load():
        code_hash.cache_clear()
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py",
                                                      submodule_search_locations=[str(folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module.ToyDomain()

    yield folder, load
    sys.modules.pop(name, None)
    code_hash.cache_clear()


def test_the_same_judge_has_one_fingerprint():
    assert FlavouredShell().fingerprint("bwrap") == FlavouredShell().fingerprint("bwrap")


def test_fingerprint_changes_with_the_backend():
    assert FlavouredShell().fingerprint("process") != FlavouredShell().fingerprint("bwrap")


def test_fingerprint_changes_with_a_domain_option():
    assert FlavouredShell("plain").fingerprint("bwrap") != FlavouredShell("spicy").fingerprint("bwrap")


def test_fingerprint_changes_with_the_toolchain_version():
    assert FlavouredShell(toolchain="iverilog 11").fingerprint("bwrap") != \
        FlavouredShell(toolchain="iverilog 12").fingerprint("bwrap")


def test_fingerprint_changes_with_the_judges_code(toy_copy):
    folder, load = toy_copy
    before = load().fingerprint("bwrap")
    with open(folder / "resources" / "check.py", "a", encoding="utf-8") as fh:
        fh.write("\n# a changed judge\n")
    assert load().fingerprint("bwrap") != before


def test_the_shipped_warm_up_model_is_not_part_of_the_fingerprint(toy_copy):
    folder, load = toy_copy
    before = load().fingerprint("bwrap")
    (folder / "resources" / "warmup").mkdir(exist_ok=True)
    (folder / "resources" / "warmup" / "config.json").write_text("{}")
    assert load().fingerprint("bwrap") == before


def test_the_fingerprint_covers_the_shared_draw_seed_code():
    """A change to how drawn stimuli are seeded changes verdicts, so it changes the fingerprint."""
    drawn = os.path.realpath(draws.__file__)
    sources = [os.path.realpath(p) for p in FlavouredShell()._judge_sources()]
    assert any(drawn == p or drawn.startswith(p + os.sep) for p in sources)
