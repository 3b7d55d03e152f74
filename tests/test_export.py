"""Export to Parquet: counts match the database, anonymisation, reproducible files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

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
