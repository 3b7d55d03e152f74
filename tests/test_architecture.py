"""The package's layers, read from its imports (issue #26): entry points on top, nothing
below imports them, and the foundation (models, settings, database, media, speech, search
engines, queues) never reaches up into the assistant's logic, channels or web app."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

# Imported by nothing inside the package but `assistant/__main__.py` and the modules of
# `assistant.cli` (`assistant run` starts the web server); an entry point's own modules
# import each other.
ENTRY_POINTS = {"assistant.cli", "assistant.web.server"}
# Modules every other layer may use; they import only each other.
FOUNDATION = {
    "assistant.config",
    "assistant.db",
    "assistant.errors",
    # A feature's reply wording is plain data that assistant.phrases gathers.
    "assistant.imagegen.phrases",
    "assistant.llm",
    "assistant.logs",
    "assistant.loops",
    "assistant.media",
    "assistant.memory",
    "assistant.metrics",
    "assistant.models",
    "assistant.phrases",
    "assistant.prompts",
    "assistant.queue",
    "assistant.retry",
    "assistant.search",
    "assistant.speech",
    "assistant.spool",
}


def _imports() -> dict[str, set[str]]:
    """module -> the assistant modules it imports (at any depth of its code)."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts).removesuffix(".__init__")
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                base = node.module
                names.add(base)
                # `from assistant import metrics` imports the module assistant.metrics.
                names.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = {n for n in names if n == "assistant" or n.startswith("assistant.")}
    return found


def _layer(module: str, layers: set[str]) -> str | None:
    return next((m for m in layers if module == m or module.startswith(m + ".")), None)


def test_nothing_in_the_package_imports_its_entry_points() -> None:
    offenders = [
        f"{module} -> {name}"
        for module, names in _imports().items()
        if not _layer(module, {"assistant.__main__", "assistant.cli"})
        for name in names
        if _layer(name, ENTRY_POINTS) and not _layer(module, {_layer(name, ENTRY_POINTS) or ""})
    ]
    assert offenders == [], offenders


def test_the_foundation_never_imports_the_layers_above_it() -> None:
    imports = _imports()
    offenders = [
        f"{module} -> {name}"
        for module, names in imports.items()
        if _layer(module, FOUNDATION)
        for name in names
        if name in imports and name != "assistant" and not _layer(name, FOUNDATION)
    ]
    assert offenders == [], offenders


def test_the_rules_see_the_whole_package() -> None:
    """The scan finds the modules it names (a renamed layer must not pass silently)."""
    imports = _imports()
    for layer in FOUNDATION | ENTRY_POINTS:
        assert any(_layer(m, {layer}) for m in imports), layer
    assert "assistant.core" in imports and "assistant.catalog" in imports


def test_the_readmes_layout_names_every_module_and_subpackage() -> None:
    """Regression: the README's layout missed six modules; a newcomer reads it first."""
    readme = (PACKAGE.parent / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("```", 2)[1]
    names = {p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__")}
    names |= {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    missing = sorted(n for n in names if n not in layout)
    assert missing == [], f"not in the README's layout: {missing}"
