"""The architecture's arrow, checked: core and io never load Qt or torch; models never load Qt."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path


import segstudio

REPO_ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("PySide6", "shiboken6", "torch", "torchvision")


def _modules(package: str) -> list[str]:
    module = __import__(package, fromlist=["__path__"])
    return [package] + [info.name for info in pkgutil.walk_packages(module.__path__, prefix=f"{package}.")]


def _loaded_after_import(modules: list[str]) -> set[str]:
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(' '.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    return set(result.stdout.split())


def test_importing_the_package_loads_neither_qt_nor_torch() -> None:
    assert _loaded_after_import(["segstudio", "segstudio.cli"]) == set()


def test_core_and_io_load_neither_qt_nor_torch() -> None:
    assert _loaded_after_import(_modules("segstudio.core") + _modules("segstudio.io")) == set()


def test_import_linter_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports is not None, "import-linter is a test dependency: pip install -e '.[test]'"
    result = subprocess.run([lint_imports, "--no-cache"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_version_is_the_only_thing_in_the_package_root() -> None:
    assert segstudio.__version__.count(".") == 2


def test_no_module_imports_itself_through_others() -> None:
    """No import cycle anywhere in the package (lazy imports inside functions count too)."""
    import grimp  # import-linter's graph builder, a test dependency through it

    graph = grimp.build_graph("segstudio")
    cycles = sorted(
        {
            tuple(sorted((module, imported)))
            for module in graph.modules
            for imported in graph.find_modules_directly_imported_by(module)
            if graph.chain_exists(importer=imported, imported=module)
        }
    )
    assert cycles == [], f"import cycles (each pair imports the other, directly or through others): {cycles}"
