"""Every module of ``server/``, ``schemas/`` and ``miniprogram_api/`` imports on its own.

A cycle hides as long as something always imports the right module first (the app factory
did, until it moved out of ``server/__init__``). Each module is imported in a process of
its own that has loaded no project module before: one fresh interpreter loads only
third-party packages (so 120 imports take seconds, not minutes), then forks a child per
module, and the child imports it and nothing else.
"""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGES = ("server", "schemas", "miniprogram_api")

PROBE = r"""
import importlib, os, sys, traceback
PACKAGES = %(packages)r
# Third-party packages the project uses, loaded once before forking (never a project module).
for name in ("flask", "flask_smorest", "flask_sqlalchemy", "flask_migrate", "flask_limiter",
             "marshmallow", "sqlalchemy", "webargs", "apispec", "wechatpy", "requests",
             "PIL", "pillow_heif", "huey", "orjson", "opening_hours", "cryptography", "click"):
    importlib.import_module(name)
assert not [m for m in sys.modules if m.split(".")[0] in PACKAGES]
failed = 0
for module in sys.stdin.read().split():
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            sys.stdout.write("%%s\n%%s\n" %% (module, traceback.format_exc(limit=-3)))
            sys.stdout.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    failed += status != 0
sys.exit(1 if failed else 0)
"""


def project_modules() -> list[str]:
    modules = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules.append(".".join(parts))
    return modules


def run_probe(modules: list[str], root: pathlib.Path) -> subprocess.CompletedProcess:
    """Import each of ``modules`` alone, with ``root`` as the project's folder."""
    return subprocess.run(
        [sys.executable, "-c", PROBE % {"packages": PACKAGES}],
        input="\n".join(modules),
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "APP_ENV": "testing", "PYTHONPATH": str(root)},
        timeout=120,
        check=False,
    )


def test_every_module_imports_alone():
    modules = project_modules()
    assert len(modules) > 100
    result = run_probe(modules, ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_probe_catches_a_module_that_cannot_import_alone(tmp_path):
    """The check can fail: a module that needs another imported first is reported."""
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "__init__.py").write_text("")
    (tmp_path / "server" / "a.py").write_text("from server.b import X\nY = 1\n")
    (tmp_path / "server" / "b.py").write_text("from server.a import Y\nX = 2\n")
    result = run_probe(["server.a", "server.b"], tmp_path)
    assert result.returncode == 1
    assert "server.a" in result.stdout and "ImportError" in result.stdout
