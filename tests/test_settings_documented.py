"""Every setting is documented: in the README's configuration table and in .env.example
(the developers' guide asks for both; a new setting is easy to forget in one of them)."""

from __future__ import annotations

from pathlib import Path

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def aliases() -> list[str]:
    names = []
    for field in Settings.model_fields.values():
        if isinstance(field.alias, str):
            names.append(field.alias)
    return names


def test_every_setting_is_in_the_readme_and_the_example_env() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    names = aliases()
    assert len(names) > 40

    # The README names a family once: `POSTGRES_DB_HOST`, `_PORT`, ...
    def in_readme(name: str) -> bool:
        family, _, tail = name.rpartition("_")
        return f"`{name}`" in readme or (f"`{family}_" in readme and f"`_{tail}`" in readme)

    missing_readme = [n for n in names if not in_readme(n)]
    missing_example = [n for n in names if n not in example]
    assert missing_readme == []
    assert missing_example == []
