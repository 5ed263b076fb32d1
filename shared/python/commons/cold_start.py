"""A function's init phase, the part of its cold start that is ours: what every handler module does first
and last.

Everything a handler module builds at init (modules, classes, pydantic's validators, settings, the SDK
client) lives as long as the execution environment. Python's cyclic garbage collector, left on, runs every
few hundred allocations meanwhile and traces an ever larger heap, freeing almost nothing: it was a sixth to a
third of what the API functions added to the floor (decision 19).

And Powertools' ``event_handler`` and ``utilities.data_classes`` packages re-export, from their
``__init__``, every resolver (AppSync, Bedrock, VPC Lattice, with asyncio) and every event class, so that
importing the one REST resolver an API function uses ran them all: about a quarter of what an API function
added to the floor (decision 21). Their names are resolved on first use instead, from the same modules.

So a handler module's first statements are::

    from commons.cold_start import begin_init, init_done

    begin_init()

and its last is ``init_done()``. This module imports only a few small standard-library modules (which
Python's start-up with ``site``, as Lambda's runtime has, has loaded already), so next to nothing runs
before the collector is paused.
"""

from __future__ import annotations

import gc
import sys
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType

TYPE_CHECKING = False  # typing itself is not imported before the collector is paused
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

# Package initializers that only re-export names of their own submodules (checked when loaded).
DEFERRED_REEXPORTS = frozenset(
    {"aws_lambda_powertools.event_handler", "aws_lambda_powertools.utilities.data_classes"}
)


def begin_init() -> None:
    """Pause the collector and defer the re-exports, until ``init_done()``."""
    gc.disable()
    if not any(isinstance(finder, DeferredReexports) for finder in sys.meta_path):
        sys.meta_path.insert(0, DeferredReexports(DEFERRED_REEXPORTS))


def init_done() -> None:
    """Create the DynamoDB client now, at init as Lambda advises, rather than in the first invoke; then move
    everything init built into the collector's permanent generation (never traced again, so warm invokes'
    collections stay short) and turn the collector back on.

    The price is memory: cyclic garbage made during init is never freed (a few hundred kB at most).
    Packages already deferred stay so; one first imported after init loads as usual."""
    # Imported here, so that importing this module imports no SDK before begin_init().
    from commons.dynamodb import client  # noqa: PLC0415

    client()
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, DeferredReexports)]
    gc.freeze()
    gc.enable()


class Reexports:
    """What a package's ``__init__`` re-exports: each name's (submodule, name there), its ``__all__`` and its
    docstring."""

    def __init__(self, names: dict[str, tuple[str, str]], public: list[str] | None, doc: str | None) -> None:
        self.names = names
        self.public = public
        self.doc = doc

    def resolve(self, name: str) -> Any:
        module, attribute = self.names[name]
        # As ``from module import attribute`` does: an attribute that is a submodule not yet imported is imported.
        return getattr(__import__(module, fromlist=[attribute]), attribute)


def reexports(package: str, source: str) -> Reexports | None:
    """What the ``__init__`` of ``package`` (its ``source``) re-exports; None unless it does nothing else: a
    docstring, ``from <its own submodule> import ...`` statements and an ``__all__`` of those names, so that
    deferring it changes nothing but when each name loads."""
    import ast  # noqa: PLC0415 - only when a deferred package is first imported, with the collector paused

    tree = ast.parse(source)
    names: dict[str, tuple[str, str]] = {}
    public: list[str] | None = None
    for index, statement in enumerate(tree.body):
        if isinstance(statement, ast.ImportFrom) and statement.module and statement.level in (0, 1):
            module = f"{package}.{statement.module}" if statement.level else statement.module
            if not module.startswith(f"{package}.") or any(alias.name == "*" for alias in statement.names):
                return None
            names |= {alias.asname or alias.name: (module, alias.name) for alias in statement.names}
        elif index == 0 and isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        elif (
            isinstance(statement, ast.Assign)
            and [getattr(target, "id", None) for target in statement.targets] == ["__all__"]
            and isinstance(statement.value, ast.List | ast.Tuple)
        ):
            public = [getattr(element, "value", None) for element in statement.value.elts]  # type: ignore[misc]
            if not all(name in names for name in public):
                return None
        else:
            return None
    return Reexports(names, public, ast.get_docstring(tree, clean=False))


class DeferredReexports:
    """A meta path finder for the packages named: each is found as usual, and loaded by
    ``ReexportsLoader`` when its ``__init__`` only re-exports (``reexports``), else as usual."""

    def __init__(self, packages: frozenset[str]) -> None:
        self.packages = packages

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.packages:
            return None
        spec = PathFinder.find_spec(fullname, path, target)
        get_source = getattr(spec and spec.loader, "get_source", None)
        source = get_source(fullname) if get_source else None
        exported = reexports(fullname, source) if source else None
        if spec is not None and exported is not None:
            spec.loader = ReexportsLoader(exported, spec.loader)  # type: ignore[assignment]
        return spec


class ReexportsLoader:
    """The package's own loader, but for ``exec_module``: instead of running the ``__init__``, it makes the
    module a ``ReexportingPackage``."""

    def __init__(self, exported: Reexports, loader: Any) -> None:
        self.exported = exported
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)  # get_source, is_package, resource readers...

    def create_module(self, spec: ModuleSpec) -> None:
        return None  # the import system's default module

    def exec_module(self, module: ModuleType) -> None:
        module.__doc__ = self.exported.doc
        if self.exported.public is not None:
            module.__all__ = self.exported.public  # type: ignore[attr-defined]
        module.__class__ = ReexportingPackage


def _reexports_of(module: ModuleType) -> Reexports | None:
    # None once the package is reloaded by its own loader, after init: it then holds what its __init__ made.
    return getattr(getattr(module.__dict__.get("__spec__"), "loader", None), "exported", None)


class ReexportingPackage(ModuleType):
    """A package whose ``__init__`` has not run, with the attributes it would have made: a re-exported name
    is read from its submodule the first time it is read (then kept), and a submodule (which its ``__init__``
    would have imported, directly or not) is imported the first time it is read as an attribute."""

    def __getattr__(self, name: str) -> Any:
        exported = _reexports_of(self)
        if exported is not None and name in exported.names:
            value = exported.resolve(name)
        elif (
            exported is not None
            and not name.startswith("__")  # probes such as __wrapped__ name no submodule
            and PathFinder.find_spec(f"{self.__name__}.{name}", self.__path__)
        ):
            __import__(f"{self.__name__}.{name}")
            value = sys.modules[f"{self.__name__}.{name}"]
        else:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        ModuleType.__setattr__(self, name, value)
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        exported = _reexports_of(self)
        if (
            exported is not None
            and name in exported.names
            and isinstance(value, ModuleType)
            and value.__name__ == f"{self.__name__}.{name}"
        ):
            # The import system binding a submodule named as a re-export (``from .x import x``): after the
            # ``__init__`` the name is the re-export, which the ``__init__`` binds after importing the submodule.
            value = exported.resolve(name)
        ModuleType.__setattr__(self, name, value)

    def __dir__(self) -> list[str]:
        exported = _reexports_of(self)
        return sorted({*vars(self), *(exported.names if exported else ())})
