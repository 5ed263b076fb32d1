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

# Each attribute either package has once its __init__ ran (every re-export and the submodules it imported, read
# from the real module, not from the parser under test), as (defining module, qualified name), after ``setup``.
NAMES = """
import json, sys
%s
import importlib, types
names = %r
seen = {}
for package in sorted(%r):
    module = importlib.import_module(package)
    for name in names.get(package) or [name for name in vars(module) if not name.startswith("__")]:
        value = getattr(module, name)
        if isinstance(value, types.ModuleType):
            seen[f"{package}.{name}"] = ["module", value.__name__]
        else:
            seen[f"{package}.{name}"] = [getattr(value, "__module__", None), getattr(value, "__qualname__", repr(value))]
    seen[f"{package}.__all__"] = list(module.__all__)
    seen[f"{package}.__doc__"] = module.__doc__
print(json.dumps({"loader": type(module.__spec__.loader).__name__, "seen": seen}))
"""


def names_after(setup: str, names: dict[str, list[str]]) -> dict[str, object]:
    return dict(json.loads(run_fresh(NAMES % (setup, names, sorted(DEFERRED_REEXPORTS)))))


def test_every_reexported_name_is_what_the_package_init_gives():
    as_usual = names_after("", {})
    every_name: dict[str, list[str]] = {package: [] for package in DEFERRED_REEXPORTS}
    for key in as_usual["seen"]:  # type: ignore[attr-defined]
        package, name = key.rsplit(".", 1)
        if not name.startswith("__"):
            every_name[package].append(name)
    deferred = names_after("from commons.cold_start import begin_init; begin_init()", every_name)
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
from .clash import clash
from .sub import mod

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
        (tmp_path / name / "clash.py").write_text("def clash(): return 'the function'\n")
        (tmp_path / name / "sub").mkdir()
        (tmp_path / name / "sub" / "__init__.py").write_text("")
        (tmp_path / name / "sub" / "mod.py").write_text("VALUE = 1\n")
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
    assert {"One", "Two", "renamed", "clash", "mod"} <= set(dir(pure))
    assert pure.__doc__ == "A package that only re-exports."
    assert pure.__spec__.loader.is_package("pure")  # the package's own loader answers the rest
    assert pure.mod.VALUE == 1  # a submodule of a subpackage, re-exported
    assert pure.first is sys.modules["pure.first"]  # the __init__ imported it: an attribute, as there
    assert pure.sub.mod is pure.mod
    with pytest.raises(AttributeError, match="module 'pure' has no attribute 'Three'"):
        _ = pure.Three
    namespace: dict[str, object] = {}
    exec("from pure import third", namespace)  # noqa: S102 - a submodule, not a re-export
    assert getattr(namespace["third"], "THREE", None) == 3
    exec("from pure import *", namespace)  # noqa: S102
    assert {"One", "Two"} <= set(namespace)
    assert "renamed" not in namespace


@pytest.mark.usefixtures("packages")
@pytest.mark.parametrize("submodule_first", [True, False])
def test_a_reexport_named_as_its_submodule_stays_the_reexport(submodule_first):
    """``from .clash import clash``: after the __init__, ``clash`` is the function, whichever is imported first."""
    if submodule_first:
        importlib.import_module("pure.clash")
    namespace: dict[str, object] = {}
    exec("from pure import clash", namespace)  # noqa: S102
    importlib.import_module("pure.clash")
    assert callable(namespace["clash"])
    assert importlib.import_module("pure").clash() == "the function"


@pytest.mark.usefixtures("packages")
def test_a_package_whose_init_does_more_loads_as_usual():
    busy = importlib.import_module("busy")

    assert not isinstance(busy.__spec__.loader, ReexportsLoader)
    assert busy.LOADED is True


@pytest.mark.parametrize(
    "source",
    [
        "import os\n",
        "from . import a\n",
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
        "clash": ("pure.clash", "clash"),
        "mod": ("pure.sub", "mod"),
    }
    assert exported.public == ["One", "Two"]
    assert exported.doc == "A package that only re-exports."
    without_all = reexports("pure", "from .first import One\n")
    assert without_all is not None
    assert without_all.public is None
