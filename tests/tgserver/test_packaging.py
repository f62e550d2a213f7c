"""The server stands alone: it runs without the driver, and declares tornado."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_does_not_load_the_driver() -> None:
    code = ("import sys, tgserver, tgserver.server, tgserver.__main__\n"
            "assert 'tgserver.driver' not in sys.modules, 'driver loaded'\n"
            "from tgserver import Driver\n"
            "assert Driver.__module__ == 'tgserver.driver'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT)}, check=False)
    assert done.returncode == 0, done.stderr


def test_tornado_is_a_declared_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(dep.startswith("tornado") for dep in project["project"]["dependencies"])


def test_the_sandbox_page_ships_with_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = project["tool"]["setuptools"]["package-data"]["tgserver.sandbox"]
    static = ROOT / "tgserver" / "sandbox" / "static"
    files = sorted(p.name for p in static.iterdir())
    assert {"index.html", "app.js", "app.css", "sample-hazard.png"} <= set(files)
    for name in files:
        assert any(Path("static", name).match(pattern) for pattern in patterns), name
