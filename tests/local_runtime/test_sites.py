"""Which Python the functions run on (local_runtime/sites.py): Lambda's 3.13 when the machine has one."""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Iterator

import pytest

from local_runtime import sites


@pytest.fixture(autouse=True)
def chosen_afresh() -> Iterator[None]:
    sites.lambda_python.cache_clear()
    yield
    sites.lambda_python.cache_clear()


def test_without_a_python_313_functions_run_on_the_venvs_and_make_up_says_so(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LAMBDA_PYTHON", raising=False)
    monkeypatch.setattr(sites, "_candidates", lambda: [sys.executable])  # only this (3.11) interpreter
    python = sites.lambda_python()
    assert (python.executable, python.version, python.packages) == (
        sys.executable,
        platform.python_version(),
        None,
    )
    assert "no CPython 3.13 found" in python.describe()


def test_a_named_interpreter_that_does_not_run_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LAMBDA_PYTHON", "/nonexistent/python3.13")
    with pytest.raises(
        SystemExit, match=re.escape("LAMBDA_PYTHON=/nonexistent/python3.13 is not a Python interpreter")
    ):
        sites.lambda_python()


def test_a_python_313_gets_the_pinned_packages_installed_for_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("LAMBDA_PYTHON", raising=False)
    python = sites.lambda_python()
    if not python.is_lambdas:
        pytest.skip("no CPython 3.13 on this machine: the fallback is tested above")
    assert python.packages is not None
    assert (python.packages / "awslambdaric").is_dir()
    assert any(python.packages.glob("pydantic_core/_pydantic_core.cpython-313-*.so"))
    assert "as Lambda's python3.13" in python.describe()
