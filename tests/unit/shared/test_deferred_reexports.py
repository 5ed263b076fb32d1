"""Powertools' re-export packages, deferred at init (commons.cold_start, decision 21): the API functions
stop loading every other resolver and event class, and every name still resolves to the same object."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from commons.cold_start import DEFERRED_REEXPORTS, DeferredReexports, ReexportsLoader, reexports
from tests.unit.shared.test_cold_start_imports import imported_by, run_fresh

# Every name either package's __init__ re-exports (its __all__ and the rest), as (defining module, qualified name), after ``setup``.
NAMES = """
import json, sys
%s
import importlib, importlib.util, pathlib
from commons.cold_start import reexports
seen = {}
for package in sorted(%r):
    every_name = reexports(package, pathlib.Path(importlib.util.find_spec(package).origin).read_text()).names
    module = importlib.import_module(package)
    for name in every_name:
        value = getattr(module, name)
        seen[f"{package}.{name}"] = [getattr(value, "__module__", None), getattr(value, "__qualname__", repr(value))]
print(json.dumps({"loader": type(module.__spec__.loader).__name__, "seen": seen}))
"""


def names_after(setup: str) -> dict[str, object]:
    return dict(json.loads(run_fresh(NAMES % (setup, sorted(DEFERRED_REEXPORTS)))))


def test_every_reexported_name_is_what_the_package_init_gives():
    as_usual = names_after("")
    deferred = names_after("from commons.cold_start import begin_init; begin_init()")
    assert as_usual["loader"] == "SourceFileLoader"
    assert deferred["loader"] == "ReexportsLoader"
    assert len(as_usual["seen"]) > 60
    assert deferred["seen"] == as_usual["seen"]


@pytest.mark.parametrize("package", sorted(DEFERRED_REEXPORTS))
def test_the_pinned_powertools_packages_only_reexport(package):
    """Fails when a Powertools upgrade gives one of them an initializer that does more: it would then load
    as usual (correct, but the cold start grows back), and decision 21 needs a second look."""
    spec = importlib.util.find_spec(package)
    assert spec is not None
    assert spec.origin is not None
    exported = reexports(package, Path(spec.origin).read_text())
    assert exported is not None
    assert exported.public is not None
    assert len(exported.public) == len(set(exported.public)) > 5


@pytest.mark.parametrize("module", ["orders.handlers.api", "telemetry.handlers.api"])
def test_api_functions_load_neither_the_other_resolvers_nor_asyncio(module):
    loaded = imported_by(module)
    assert "aws_lambda_powertools.event_handler.api_gateway" in loaded
    unused = (
        "asyncio",
        "aws_lambda_powertools.event_handler.appsync",
        "aws_lambda_powertools.event_handler.bedrock_agent",
    )
    assert [name for name in unused if name in loaded] == []
    assert (
        len([name for name in loaded if name.startswith("aws_lambda_powertools.utilities.data_classes.")])
        < 12
    )


def test_init_done_removes_the_finder_and_begin_init_adds_it_once():
    state = json.loads(
        run_fresh(
            "import json, sys\n"
            "from commons.cold_start import DeferredReexports, begin_init, init_done\n"
            "count = lambda: sum(isinstance(f, DeferredReexports) for f in sys.meta_path)\n"
            "begin_init(); begin_init(); during = count(); init_done()\n"
            "print(json.dumps([during, count()]))"
        )
    )
    assert state == [1, 0]


# --- what the finder accepts, on packages of our own --------------------------------------------------

PURE = '''"""A package that only re-exports."""
from pure.first import One, helper as renamed
from .second import Two

__all__ = ["One", "Two"]
'''


@pytest.fixture
def packages(tmp_path, monkeypatch):
    """Two packages on the import path, ``pure`` (only re-exports) and ``busy`` (does more), found by a
    DeferredReexports finder; removed from sys.modules afterwards."""
    for name, init in {"pure": PURE, "busy": "from busy.first import One\nLOADED = True\n"}.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(init)
        (tmp_path / name / "first.py").write_text("class One: ...\ndef helper(): return 1\n")
        (tmp_path / name / "second.py").write_text("class Two: ...\n")
        (tmp_path / name / "third.py").write_text("THREE = 3\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", [DeferredReexports(frozenset({"pure", "busy"})), *sys.meta_path])
    yield
    for name in [name for name in sys.modules if name.split(".")[0] in ("pure", "busy")]:
        del sys.modules[name]


@pytest.mark.usefixtures("packages")
def test_a_deferred_package_loads_each_name_when_first_read():
    pure = importlib.import_module("pure")

    assert isinstance(pure.__spec__.loader, ReexportsLoader)
    assert "pure.first" not in sys.modules
    assert "pure.second" not in sys.modules
    assert pure.One.__module__ == "pure.first"
    assert "pure.first" in sys.modules
    assert "pure.second" not in sys.modules
    assert pure.renamed() == 1
    assert pure.__all__ == ["One", "Two"]
    assert {"One", "Two", "renamed"} <= set(dir(pure))
    with pytest.raises(AttributeError, match="module 'pure' has no attribute 'Three'"):
        _ = pure.Three
    namespace: dict[str, object] = {}
    exec("from pure import third", namespace)  # noqa: S102 - a submodule, not a re-export
    assert getattr(namespace["third"], "THREE", None) == 3
    exec("from pure import *", namespace)  # noqa: S102
    assert {"One", "Two"} <= set(namespace)
    assert "renamed" not in namespace


@pytest.mark.usefixtures("packages")
def test_a_package_whose_init_does_more_loads_as_usual():
    busy = importlib.import_module("busy")

    assert not isinstance(busy.__spec__.loader, ReexportsLoader)
    assert busy.LOADED is True


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "from os import path\n",
        "from pkg.a import *\n",
        "from ..a import A\n",
        "from pkg.a import A\nX = 1\n",
        "from pkg.a import A\nprint('loaded')\n",
        "from pkg.a import A\n__all__ = ['A', 'B']\n",
        "from pkg.a import A\n__all__ = ['A']\n'''a string after the code'''\n",
        "from pkg.a import A\ndef f(): pass\n",
        "from pkgx.a import A\n",
    ],
)
def test_reexports_refuses_an_init_that_does_anything_else(source):
    assert reexports("pkg", source) is None


def test_reexports_maps_each_name_to_its_submodule():
    exported = reexports("pure", PURE)
    assert exported is not None
    assert exported.names == {
        "One": ("pure.first", "One"),
        "renamed": ("pure.first", "helper"),
        "Two": ("pure.second", "Two"),
    }
    assert exported.public == ["One", "Two"]
    without_all = reexports("pure", "from .first import One\n")
    assert without_all is not None
    assert without_all.public is None
