"""The built sdist and wheel: what they ship and what their metadata declares (pip, PyPI and Airflow read it).

The artifacts come from ``$PICTORY_DIST_DIR`` when set (``.ci/run`` builds them with ``make dist``, which
also runs ``twine check --strict``), otherwise they are built here once with ``python -m build
--no-isolation`` (a few seconds; skipped where ``build`` is not installed, as in the compat venvs).
"""

from __future__ import annotations

import ast
import email
import importlib
import inspect
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.message import Message
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import pictory_provider

ROOT = Path(__file__).resolve().parent.parent
DIST_ENV = "PICTORY_DIST_DIR"
NAME = "airflow_provider_pictory"
VERSION = pictory_provider.__version__

#: Modules users import from; each declares ``__all__`` so ``mypy --strict`` users can import its names.
PUBLIC_MODULES = (
    "pictory_provider.api",
    "pictory_provider.kinds",
    "pictory_provider.storyboard",
    "pictory_provider.transcription",
    "pictory_provider.credits",
    "pictory_provider.submission",
    "pictory_provider.links",
    "pictory_provider.events",
    "pictory_provider.exceptions",
    "pictory_provider.storage",
    "pictory_provider.destination",
    "pictory_provider.hooks.pictory",
    "pictory_provider.hooks.connection",
    "pictory_provider.hooks.transport",
    "pictory_provider.hooks.lookups",
    "pictory_provider.hooks.transcription",
    "pictory_provider.operators.pictory",
    "pictory_provider.operators.render",
    "pictory_provider.operators.transcribe",
    "pictory_provider.sensors.pictory",
    "pictory_provider.triggers.pictory",
    "pictory_provider.emulator",
    "pictory_provider.testing.pytest_plugin",
    "pictory_provider.ui.plugin",
    "pictory_provider.ui.gallery",
    "pictory_provider.ui.pages",
    "pictory_provider.ui.app",
)
#: Helpers shared between the provider's own modules, deliberately not part of the public API.
INTERNAL_HELPERS: dict[str, set[str]] = {}
#: What the package may require at run time: nothing else (no dev tools, no test runners).
RUNTIME_REQUIREMENTS = {
    "apache-airflow",
    "apache-airflow-providers-common-compat",
    "requests",
    "urllib3",
    "aiohttp",
    "asgiref",
    "tenacity",
    "pendulum",
    "fsspec",
    "yarl",
}
DEV_TOOLS = {"ruff", "mypy", "playwright", "mkdocs", "mkdocs-material", "mkdocstrings", "build", "twine"}
#: Files of the git tree that the sdist leaves out on purpose.
NOT_IN_SDIST = {".gitignore", ".ci/run"}


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get(DIST_ENV)
    if given:
        return Path(given)
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    source = tmp_path_factory.mktemp("src") / "src"
    # Build from a copy so the egg-info and build/ directories do not land in the working tree.
    skip = shutil.ignore_patterns(
        ".venv*", ".git", "dist", "build", "*.egg-info", "__pycache__", ".*_cache", "site", "output", ".airflow-demo"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "License classifiers are deprecated" not in done.stdout + done.stderr
    return out


@pytest.fixture(scope="module")
def wheel(dist_dir: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(dist_dir / f"{NAME}-{VERSION}-py3-none-any.whl")


@pytest.fixture(scope="module")
def metadata(wheel: zipfile.ZipFile) -> Message:
    return email.message_from_bytes(wheel.read(f"{NAME}-{VERSION}.dist-info/METADATA"))


@pytest.fixture(scope="module")
def sdist_files(dist_dir: Path) -> set[str]:
    with tarfile.open(dist_dir / f"{NAME}-{VERSION}.tar.gz") as sdist:
        names = {member.name for member in sdist.getmembers() if member.isfile()}
    prefix = f"{NAME}-{VERSION}/"
    assert all(name.startswith(prefix) for name in names)
    return {name.removeprefix(prefix) for name in names}


def test_wheel_ships_the_package_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    dist_info = f"{NAME}-{VERSION}.dist-info/"
    assert {name for name in names if not name.startswith(("pictory_provider/", dist_info))} == set()
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "pictory_provider").rglob("*.py")}
    assert sources <= names, sources - names
    assert "pictory_provider/py.typed" in names
    assert f"{dist_info}licenses/LICENSE" in names
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_wheel_metadata(metadata: Message) -> None:
    assert metadata["Name"] == "airflow-provider-pictory"
    assert metadata["Requires-Python"] == ">=3.11"
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    classifiers = metadata.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")]  # PEP 639: the expression replaces them
    assert any(c.startswith("Development Status ::") for c in classifiers)
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Programming Language :: Python :: 3.10" not in classifiers
    assert metadata["Maintainer"]
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL") or [])
    assert urls["Documentation"].startswith("https://")  # Airflow's provider list shows it
    assert metadata["Description-Content-Type"] == "text/markdown"


def test_wheel_requirements_have_honest_bounds_and_no_dev_tools(metadata: Message) -> None:
    requirements = [Requirement(line) for line in metadata.get_all("Requires-Dist") or []]
    runtime = {canonicalize_name(r.name): r for r in requirements if r.marker is None}
    extras = [r for r in requirements if r.marker is not None]
    assert set(runtime) == RUNTIME_REQUIREMENTS
    # Below 3.10.7 the bundled emulator answers 500 ("Host ... cannot contain ':'") with current yarl.
    assert not runtime["aiohttp"].specifier.contains("3.10.6")
    assert runtime["aiohttp"].specifier.contains("3.10.7")
    # Airflow 3.3 itself needs requests>=2.32: a lower minimum is one nobody can install with it.
    assert not runtime["requests"].specifier.contains("2.31.0")
    assert not runtime["apache-airflow"].specifier.contains("2.10.5")
    assert not runtime["apache-airflow-providers-common-compat"].specifier.contains("1.22.0")
    # The only published extra is what the bundled pytest plugin needs.
    assert {canonicalize_name(r.name) for r in extras} == {"pytest"}
    assert not {canonicalize_name(r.name) for r in requirements} & DEV_TOOLS


def test_every_third_party_import_is_a_declared_requirement(metadata: Message) -> None:
    declared = {canonicalize_name(Requirement(line).name) for line in metadata.get_all("Requires-Dist") or []}
    provided = packages_distributions()
    imported: set[str] = set()
    for path in (ROOT / "pictory_provider").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    # OpenLineage is optional: pictory_provider/lineage.py imports it lazily and does nothing without it.
    optional = {"openlineage"}
    # The UI plugin's app (pictory_provider/ui/app.py) is imported only by Airflow's api-server (>= 3.1),
    # which depends on FastAPI and SQLAlchemy itself; the plugin module loaded everywhere imports neither.
    optional |= {"fastapi", "sqlalchemy"}
    third_party = imported - set(sys.stdlib_module_names) - {"pictory_provider", "airflow"} - optional
    assert third_party, "the scan found no third-party import at all"
    undeclared = {
        module: provided.get(module, [module])
        for module in third_party
        if not {canonicalize_name(d) for d in provided.get(module, [module])} & declared
    }
    assert undeclared == {}


def test_entry_points(wheel: zipfile.ZipFile) -> None:
    text = wheel.read(f"{NAME}-{VERSION}.dist-info/entry_points.txt").decode()
    assert re.search(r"^\[apache_airflow_provider\]\nprovider_info = pictory_provider\.get_provider_info", text, re.M)
    assert "pictory-emulator = pictory_provider.emulator.__main__:main" in text
    assert re.search(r"^\[airflow\.plugins\]\npictory = pictory_provider\.ui\.plugin:PictoryPlugin$", text, re.M)
    assert re.search(r"^\[pytest11\]\npictory = pictory_provider\.testing\.pytest_plugin$", text, re.M)


def test_sdist_is_the_whole_source_tree(sdist_files: set[str]) -> None:
    """Tests, example DAGs, docs, CHANGELOG and LICENSE ship together, so the sdist's tests can run."""
    for required in ("LICENSE", "CHANGELOG.md", "README.md", "MANIFEST.in", "tests/conftest.py"):
        assert required in sdist_files
    assert not [name for name in sdist_files if "__pycache__" in name or name.endswith(".pyc")]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to compare the sdist with")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tracked = {name for name in listed if (ROOT / name).is_file()} - NOT_IN_SDIST
    assert tracked - sdist_files == set()
    generated = {name for name in sdist_files - tracked if name.startswith(f"{NAME}.egg-info/")}
    assert sdist_files - tracked - generated == {"PKG-INFO"}


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_modules_declare_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__dict__.get("__all__")
    assert exported is not None, f"{module_name} has no __all__"
    assert len(set(exported)) == len(exported)
    assert [name for name in exported if not hasattr(module, name)] == []
    defined_here = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module_name
    }
    internal = INTERNAL_HELPERS.get(module_name, set())
    assert defined_here - set(exported) - internal == set(), "public but not in __all__"
