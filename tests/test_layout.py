"""Layout contract: which top-level packages may import which, checked on the source with `ast`.

- `engine` never imports `textual`, `widgets`, `bigearn_tui` or `localexchange` (the local Polymarket-protocol
  exchange is a test and demo server; it may import engine, never the other way round).
- `engine/strategies/` never imports `engine.venues` or `engine.store`: a strategy sees the engine's
  types, not a venue's wire code or the database. The package may not exist yet; it is checked once it does.
- `widgets` never imports `localexchange`.

Every `import` and `from ... import` anywhere in a file counts (module level, inside functions, under
`TYPE_CHECKING`); relative imports are resolved against the file's package, and `from pkg import name`
counts as importing `pkg.name` too (it may be a submodule).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Directories at the repository root that hold no source of ours.
SKIP_DIRS = {".venv", "venv", "build", "dist", "runs", "node_modules", "__pycache__"}


@dataclass(frozen=True)
class Rule:
    scope: str  # a dotted module prefix: the rule applies to it and everything below it
    forbidden: tuple[str, ...]  # dotted module prefixes it must not import
    why: str


RULES = (
    Rule(
        "engine",
        ("textual", "widgets", "bigearn_tui", "localexchange"),
        "the engine runs headless and never depends on the UI or on the local exchange",
    ),
    Rule(
        "engine.strategies",
        ("engine.venues", "engine.store"),
        "strategies see the engine's types, not a venue's wire code or the store",
    ),
    Rule("widgets", ("localexchange",), "widgets render engine state and never reach the local exchange"),
)


def under(module: str, prefix: str) -> bool:
    """`module` is `prefix` or one of its submodules (by dotted component: `textualize` is not `textual`)."""
    return module == prefix or module.startswith(prefix + ".")


def module_name(relpath: str) -> str:
    """`engine/venues/polymarket/clob/signing.py` -> `engine.venues.polymarket.clob.signing`; a package's
    `__init__.py` is the package itself."""
    parts = list(Path(relpath).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in `tree`. `from a import b` yields `a` and `a.b`."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    # Beyond the top-level package: an ImportError at run time; keep the dots so it is
                    # still listed, matching no rule.
                    base = "." * node.level + (node.module or "")
                else:
                    anchor = parts[: len(parts) - (node.level - 1)]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                found.append((node.lineno, base))
            for alias in node.names:
                if alias.name != "*":
                    found.append((node.lineno, f"{base}.{alias.name}" if base else alias.name))
    return found


def violations(source: str, relpath: str) -> list[str]:
    """Every rule broken by the file at `relpath` (repository-relative, `/`-separated) with `source`."""
    module = module_name(relpath)
    rules = [rule for rule in RULES if under(module, rule.scope)]
    if not rules:
        return []
    tree = ast.parse(source, filename=relpath)
    found: list[str] = []
    seen: set[tuple[int, str]] = set()
    for line, imported in imported_modules(tree, module, Path(relpath).name == "__init__.py"):
        for rule in rules:
            for forbidden in rule.forbidden:
                if under(imported, forbidden) and (line, forbidden) not in seen:
                    seen.add((line, forbidden))
                    found.append(
                        f"{relpath}:{line}: imports {imported} ({rule.scope} must not import {forbidden}: "
                        f"{rule.why})"
                    )
    return found


def source_files() -> list[Path]:
    """Every .py file of the repository outside the virtualenv, build output and caches."""
    files: list[Path] = []
    for entry in sorted(ROOT.iterdir()):
        if entry.name.startswith(".") or entry.name in SKIP_DIRS or entry.name.endswith(".egg-info"):
            continue
        if entry.is_file() and entry.suffix == ".py":
            files.append(entry)
        elif entry.is_dir():
            files.extend(p for p in sorted(entry.rglob("*.py")) if "__pycache__" not in p.parts)
    return files


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


# --- the contract -------------------------------------------------------------------------------------


def test_every_source_file_keeps_the_layout() -> None:
    broken: list[str] = []
    for path in source_files():
        broken.extend(violations(path.read_text(encoding="utf-8"), relative(path)))
    assert not broken, "layout contract broken:\n" + "\n".join(broken)


def test_the_scan_covers_every_ruled_package() -> None:
    """Guards against a vacuous pass: each rule's package is actually scanned (strategies once present)."""
    scanned = {module_name(relative(p)) for p in source_files()}
    for rule in RULES:
        in_scope = {m for m in scanned if under(m, rule.scope)}
        on_disk = list((ROOT / Path(*rule.scope.split("."))).rglob("*.py"))
        on_disk = [p for p in on_disk if "__pycache__" not in p.parts]
        if rule.scope == "engine.strategies" and not on_disk:
            continue  # not written yet: nothing to check, and the rule holds the moment it is
        assert on_disk, f"{rule.scope} has no source files: is the rule stale?"
        assert {module_name(relative(p)) for p in on_disk} <= in_scope, rule.scope
    assert any(under(m, "localexchange") for m in scanned)
    assert "engine.venues.polymarket.clob.signing" in scanned


def test_localexchange_is_outside_engine_and_wire_code_under_the_venue() -> None:
    assert (ROOT / "localexchange" / "__init__.py").is_file()
    assert not (ROOT / "engine" / "sim" / "exchange").exists()
    assert not (ROOT / "engine" / "clob").exists()
    for name in ("polymarket_ws.py", "polymarket_user_ws.py", "market_channel.py"):
        assert not (ROOT / "engine" / "feeds" / name).exists(), name
    for name in ("market_ws.py", "user_ws.py", "market_channel.py", "clob/signing.py"):
        assert (ROOT / "engine" / "venues" / "polymarket" / name).is_file(), name


# --- the checker itself: it must see what it is meant to forbid ---------------------------------------


def test_checker_reports_forbidden_absolute_imports_with_file_and_line() -> None:
    source = "import os\nimport textual.app\n\ndef f():\n    from localexchange import start_exchange\n"
    found = violations(source, "engine/venues/example.py")
    assert len(found) == 2, found
    assert found[0].startswith("engine/venues/example.py:2: imports textual.app ")
    assert "engine must not import textual" in found[0]
    assert found[1].startswith("engine/venues/example.py:5: imports localexchange ")


def test_checker_resolves_relative_imports() -> None:
    # engine/strategies/momentum.py: `..venues` is engine.venues, `.. import store` is engine.store.
    source = (
        "from __future__ import annotations\n"
        "from ..domain import Market\n"
        "from ..venues.polymarket import gateway\n"
        "from .. import store\n"
        "from . import helpers\n"
    )
    found = violations(source, "engine/strategies/momentum.py")
    assert [f.split(" (")[0] for f in found] == [
        "engine/strategies/momentum.py:3: imports engine.venues.polymarket",
        "engine/strategies/momentum.py:4: imports engine.store",
    ], found
    # In a package's __init__, one dot is the package itself, two its parent.
    init = "engine/strategies/__init__.py"
    assert violations("from .store import db\n", init) == []  # engine.strategies.store
    found = violations("from ..store import db\n", init)
    assert len(found) == 1 and found[0].startswith(f"{init}:1: imports engine.store "), found
    found = violations("from ...store import db\n", "engine/strategies/sub/__init__.py")
    assert len(found) == 1 and "imports engine.store" in found[0], found
    assert violations("from .store import db\n", "engine/__init__.py") == []  # engine may use its own store


def test_checker_covers_widgets_and_typing_only_imports() -> None:
    source = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import localexchange.core as core\n"
    found = violations(source, "widgets/book.py")
    assert len(found) == 1 and found[0].startswith("widgets/book.py:3: imports localexchange.core "), found


def test_checker_allows_what_the_layout_allows() -> None:
    signing = "from engine.venues.polymarket.clob.signing import sign_order\n"
    assert violations(signing, "localexchange/intake.py") == []
    assert violations("import textwrap\nimport textualize\nfrom engine import store\n", "engine/x.py") == []
    assert violations("from localexchange import start_exchange\n", "bigearn_tui/cli.py") == []
    assert violations("import textual\n", "widgets/x.py") == []
