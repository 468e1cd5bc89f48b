"""Packaging: pyproject.toml's dependencies are the issue's list, and environment.yml (Binder) agrees."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[1]

#: The runtime dependencies issue 2 asks for, nothing more.
RUNTIME = {"torch", "gensim", "numpy", "matplotlib", "plotly", "ipywidgets", "tqdm", "safetensors"}
DEV = {"jupyterlab", "nbval", "pytest", "pytest-xdist", "nbconvert", "ruff", "mypy"}

#: conda-forge names of PyPI packages (pytorch-cpu is conda-forge's CPU-only PyTorch).
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "matplotlib-base": "matplotlib"}
#: What environment.yml may list beyond the runtime dependencies.
CONDA_PLUMBING = {"python", "pip"}
#: Installed by pip in environment.yml: lesson 07's llama.cpp library (it depends on numpy, pyyaml, requests and tqdm: no torch).
PIP_ONLY = {"gguf"}


def _pyproject() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def _runtime_requirements() -> dict[str, Requirement]:
    reqs = [Requirement(r) for r in _pyproject()["project"]["dependencies"]]
    return {r.name.lower(): r for r in reqs}


def _environment() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _conda_specs(env: dict) -> dict[str, str]:
    """The conda dependencies as {name: version spec} (the pip section left out)."""
    specs = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str):
            name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", dep).groups()
            specs[name.lower()] = spec.replace(" ", "")
    return specs


def test_runtime_dependencies_are_the_issues_list():
    reqs = _runtime_requirements()
    assert set(reqs) == RUNTIME
    for name, req in reqs.items():
        assert req.specifier, f"{name} needs a lower bound"
        # Lower bounds only: Colab preinstalls most of these and an exact pin would replace them.
        assert all(s.operator == ">=" for s in req.specifier), f"{name}: {req.specifier}"
    assert "4.4.0" in reqs["gensim"].specifier and "4.3.3" not in reqs["gensim"].specifier


def test_ipywidgets_7_and_8_are_both_allowed():
    spec = _runtime_requirements()["ipywidgets"].specifier
    assert "7.7.1" in spec, "ipywidgets 7 (Colab) must stay installable: do not pin >=8"
    assert "8.1.5" in spec


def test_dev_extra_has_the_test_and_lab_tools():
    dev = {
        Requirement(r).name.lower() for r in _pyproject()["project"]["optional-dependencies"]["dev"]
    }
    assert DEV <= dev


def test_wheel_carries_the_package_and_its_data():
    hatch = _pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert hatch["packages"] == ["lib/llmlab"]
    assert hatch["force-include"] == {"data": "llmlab/_data"}
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert "3.10" in requires and "3.12" in requires  # Colab and Binder


def test_environment_is_conda_forge_python_312_cpu_only_pytorch():
    env = _environment()
    assert env["channels"] == ["conda-forge"]
    specs = _conda_specs(env)
    assert specs["python"] in ("=3.12", "==3.12", "3.12")
    torch_names = [n for n in specs if CONDA_TO_PYPI.get(n) == "torch"]
    assert torch_names == ["pytorch-cpu"] or (
        torch_names == ["pytorch"] and "cpu" in specs["pytorch"]
    ), "PyTorch must be conda-forge's CPU-only build (pytorch-cpu, or pytorch=*=cpu*)"
    assert not any(n.startswith(("cuda", "pytorch-gpu", "pytorch-cuda")) for n in specs)


def test_environment_and_pyproject_list_the_same_dependencies():
    specs = _conda_specs(_environment())
    conda = {CONDA_TO_PYPI.get(n, n): spec for n, spec in specs.items() if n not in CONDA_PLUMBING}
    pypi = {name: str(req.specifier) for name, req in _runtime_requirements().items()}
    assert set(conda) == set(pypi), (
        f"only in environment.yml: {sorted(set(conda) - set(pypi))}; "
        f"only in pyproject.toml: {sorted(set(pypi) - set(conda))}"
    )
    for name in pypi:
        assert SpecifierSet(conda[name]) == SpecifierSet(pypi[name]), (
            f"{name}: {conda[name]} vs {pypi[name]}"
        )


def test_environment_installs_the_course_itself_with_pip():
    env = _environment()
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_sections) == 1
    lines = [line.strip() for line in pip_sections[0]]
    # A local path: repo2docker then builds the environment after copying the repository.
    assert any(line in (".", "-e .", "--editable .", "-e ./", "./") for line in lines), lines
    # Everything else comes from conda-forge, so pip does not pull a CUDA build of torch; the
    # only exceptions are PIP_ONLY's torch-free packages, with the spec of pyproject's dev extra.
    dev = {
        Requirement(r).name.lower(): Requirement(r)
        for r in _pyproject()["project"]["optional-dependencies"]["dev"]
    }
    for line in lines:
        if line.startswith((".", "-e", "--editable")):
            continue
        req = Requirement(line)
        assert req.name.lower() in PIP_ONLY, f"{line}: from pip, not conda-forge"
        assert req.specifier == dev[req.name.lower()].specifier, f"{line} vs pyproject's dev extra"
