"""Export to Parquet: counts match the database, anonymisation, reproducible files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from assistant.factory import Services
from assistant.ops.analysis import open_export
from assistant.ops.demo import fill, plan
from assistant.ops.export import Anonymizer, export


def _demo(services: Services) -> dict[str, int]:
    return fill(services, users=5, entries=40, seed=3, progress=False)


def test_demo_data_is_deterministic() -> None:
    a, b = plan(5, 40, 3), plan(5, 40, 3)
    assert [(m.sender, m.text, m.received_at) for m in a] == [
        (m.sender, m.text, m.received_at) for m in b
    ]
    assert [m.text for m in plan(5, 40, 4)] != [m.text for m in a]


def test_row_counts_equal_the_database(services: Services, tmp_path: Path) -> None:
    counts = _demo(services)
    assert counts["entries"] == 40 and counts["users"] == 5
    manifest = export(services.db, tmp_path, progress=False)
    for table, source in [
        ("entries", "descriptions"),
        ("images", "images"),
        ("messages", "messages"),
        ("memory", "memory_facts"),
        ("users", "users"),
    ]:
        expected = services.db.scalar(f"SELECT count(*) FROM {source}")
        assert manifest["tables"][table]["rows"] == expected
        assert pq.read_metadata(tmp_path / f"{table}.parquet").num_rows == expected
    on_disk = json.loads((tmp_path / "manifest.json").read_text())
    assert on_disk["schema_version"] >= 1 and on_disk["anonymized"] is False
    con = open_export(tmp_path)
    assert con.execute("SELECT count(*) FROM entries").fetchone() == (40,)


def test_anonymised_export_has_no_phone_numbers(services: Services, tmp_path: Path) -> None:
    _demo(services)
    # A number typed in a message must not survive either.
    from assistant.models import InboundMessage

    services.assistant.handle(
        InboundMessage(sender="+5511977776666", text="lembre que meu número é +55 11 97777-6666")
    )
    phones = [r["phone"] for r in services.db.fetchall("SELECT phone FROM users")]
    export(services.db, tmp_path, anonymizer=Anonymizer(b"salt"), progress=False)
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("*.parquet"))
    text = "\n".join(str(pq.read_table(p).to_pylist()) for p in tmp_path.glob("*.parquet"))
    for phone in phones:
        assert phone not in text and phone.encode() not in blob
        assert phone.lstrip("+") not in text
    assert "97777-6666" not in text
    assert "profile_name" not in pq.read_schema(tmp_path / "users.parquet").names
    # Stable: the same number hashes the same way in every table.
    owners = {r["owner"] for r in pq.read_table(tmp_path / "entries.parquet").to_pylist()}
    users = {r["owner"] for r in pq.read_table(tmp_path / "users.parquet").to_pylist()}
    assert owners <= users and all(o.startswith("u_") for o in users)


def test_second_export_of_unchanged_data_is_identical(services: Services, tmp_path: Path) -> None:
    _demo(services)
    first = export(services.db, tmp_path / "a", anonymizer=Anonymizer(b"s"), progress=False)
    second = export(services.db, tmp_path / "b", anonymizer=Anonymizer(b"s"), progress=False)
    for table in first["tables"]:
        a = (tmp_path / "a" / f"{table}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{table}.parquet").read_bytes()
        assert a == b, table
    assert first["tables"] == second["tables"]


MARIA = "+5511987654321"


def _texts(directory: Path) -> str:
    """Every value of every exported column, as text."""
    return "\n".join(str(pq.read_table(p).to_pylist()) for p in sorted(directory.glob("*.parquet")))


def test_anonymised_export_masks_names_and_numbers_in_every_text_column(
    services: Services, tmp_path: Path
) -> None:
    from assistant.models import InboundMessage
    from tests.helpers.catalog import save_entry

    def say(text: str) -> None:
        services.assistant.handle(
            InboundMessage(sender=MARIA, text=text, profile_name="Maria Aparecida Souza")
        )

    say("oi")  # the greeting names her: "Olá, Maria Aparecida Souza! 👋"
    say("lembre que o CPF da MARIA é 123.456.789-09 e o e-mail maria.souza@example.com")
    save_entry(services, MARIA, "Identidade da María Aparecida, fone (11) 98765-4321")
    save_entry(services, MARIA, "Receita da sra. SOUZA, cpf 12345678909")
    say("mostre a identidade da aparecida 123.456.789-09")
    say("fotos da Maria da Souza 98765 4321")
    export(services.db, tmp_path, anonymizer=Anonymizer(b"salt"), progress=False)
    text = _texts(tmp_path)
    folded = text.casefold()
    for leak in ("maria", "maría", "aparecida", "souza", "98765", "4321", "123.456", "12345"):
        assert leak not in folded, leak
    assert "example.com" not in text and "[email]" in text
    # What was masked is marked, and the rest of the words stay for analysis.
    queries = [
        q
        for r in pq.read_table(tmp_path / "messages.parquet").to_pylist()
        for q in r["search_queries"]
    ]
    assert queries and all("[phone]" in q or "[name]" in q for q in queries), queries
    descriptions = [
        r["description"] for r in pq.read_table(tmp_path / "entries.parquet").to_pylist()
    ]
    assert "Identidade da [name], fone [phone]" in descriptions
    greetings = [r["body"] for r in pq.read_table(tmp_path / "messages.parquet").to_pylist()]
    assert any(b.startswith("Olá, [name]! 👋") for b in greetings), greetings
    # Keyed hashes at full length (HMAC-SHA256), not 64 bits.
    owners = {r["owner"] for r in pq.read_table(tmp_path / "users.parquet").to_pylist()}
    assert all(len(o) == 2 + 64 for o in owners)


def test_salt_and_exported_files_are_private(services: Services, tmp_path: Path) -> None:
    from assistant.ops.export import load_salt

    salt_file = tmp_path / "data" / "export.salt"
    salt = load_salt(salt_file)
    assert len(salt) == 32 and salt_file.stat().st_mode & 0o777 == 0o600
    salt_file.chmod(0o644)  # one written by an earlier version
    assert load_salt(salt_file) == salt and salt_file.stat().st_mode & 0o777 == 0o600
    _demo(services)
    out = tmp_path / "export"
    out.mkdir()
    (out / "users.parquet").write_bytes(b"")
    (out / "users.parquet").chmod(0o644)
    export(services.db, out, progress=False)
    for path in out.glob("*.*"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    fresh = tmp_path / "fresh" / "export"
    export(services.db, fresh, progress=False)
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_crafted_file_and_folder_names_run_no_sql(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _demo(services)
    monkeypatch.chdir(tmp_path)  # where a COPY ... TO 'pwned.csv' would write
    folder = tmp_path / "x'); COPY (SELECT 42) TO 'pwned.csv'; --"
    export(services.db, folder, progress=False)
    evil = "x AS SELECT 1; COPY (SELECT 42) TO 'pwned.csv'; CREATE VIEW y"
    (folder / f"{evil}.parquet").write_bytes((folder / "users.parquet").read_bytes())
    con = open_export(folder)
    assert not (tmp_path / "pwned.csv").exists()
    assert con.execute("SELECT count(*) FROM entries").fetchone() == (40,)
    # The odd file is a view under its own name, quoted like any identifier.
    quoted = '"' + evil.replace('"', '""') + '"'
    assert con.execute(f"SELECT count(*) FROM {quoted}").fetchone() == (5,)
