"""The Gradio app's handlers, called directly, and the app driven with gradio_client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from assistant.factory import Services, build_brain
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.web import ui
from tests.fakes.openai_server import Call, FakeOpenAI, Say
from tests.helpers.processes import free_port

ALICE, BOB = "+5511933330001", "+5511933330002"


def photo(tmp_path: Path, name: str) -> str:
    path = tmp_path / f"{name.replace(' ', '_')}.jpg"
    path.write_bytes(sample_image(name))
    return str(path)


def test_simulator_saves_and_finds_a_photo(services: Services, tmp_path: Path) -> None:
    history, text, files, status, audio = ui.send(
        services, ALICE, "Meu cachorro na praia", [photo(tmp_path, "dog")], []
    )
    assert (text, files, audio) == ("", None, None)
    assert history[0]["content"]["path"].endswith("dog.jpg")
    assert "Foto salva" in history[-1]["content"]
    assert status.startswith("offline rules") and " ms" in status
    history, *_ = ui.send(services, ALICE, "Mostre fotos de cachorro", None, history)
    images = [m for m in history if m["role"] == "assistant" and isinstance(m["content"], dict)]
    assert len(images) == 1 and Path(images[0]["content"]["path"]).read_bytes() == sample_image(
        "dog"
    )
    # Another simulated user sees nothing of it.
    other, *_ = ui.send(services, BOB, "Mostre fotos de cachorro", None, [])
    assert not any(isinstance(m["content"], dict) for m in other)


def test_empty_message_is_refused_kindly(services: Services) -> None:
    history, _, _, status, _ = ui.send(services, ALICE, "  ", None, [])
    assert history == [] and "Type a message" in status


def test_catalog_browses_searches_shows_details_and_deletes(
    services: Services, tmp_path: Path
) -> None:
    ui.send(services, ALICE, "Recibo do mercado", [photo(tmp_path, "receipt")], [])
    ui.send(services, ALICE, "Meu gato no sofá", [photo(tmp_path, "cat")], [])
    ui.send(services, BOB, "Gato do Bob", [photo(tmp_path, "bob cat")], [])

    page = ui.catalog_browse(services, ALICE, "")
    assert page.shown == 2 and page.summary.startswith("2 entries for \\+5511933330001")
    page = ui.catalog_browse(services, ALICE, "gatos")
    thumbs = [t for g in page.groups for t in g.thumbs]
    assert [t.caption for t in thumbs] == ["Meu gato no sofá"]
    everyone = ui.catalog_browse(services, "", "gato")
    assert everyone.shown == 2 and "all users" in everyone.summary

    opened = ui.catalog_open(services, thumbs[0].owner, thumbs[0].entry_id, thumbs[0].image_id)
    assert opened is not None
    details = opened.details
    assert "Meu gato no sofá" in details and "image/jpeg" in details and "160×120" in details
    selected = [opened.owner, opened.entry_id]
    message = ui.catalog_delete(services, selected)
    assert message.startswith("Deleted entry") and "Meu gato no sofá" in message
    assert services.catalog.search(ALICE, "gato").entries == []
    assert services.catalog.count_entries(BOB) == 1


def test_catalog_details_escape_user_text(services: Services, tmp_path: Path) -> None:
    ui.send(services, ALICE, "<script>alert(1)</script> nota", [photo(tmp_path, "x")], [])
    thumb = ui.catalog_browse(services, ALICE, "").groups[0].thumbs[0]
    opened = ui.catalog_open(services, thumb.owner, thumb.entry_id, thumb.image_id)
    assert opened is not None
    details = opened.details
    # Markdown escapes: shown as the characters typed, never as a tag.
    assert "<script>" not in details and "\\<script\\>alert\\(1\\)" in details


def test_memory_tab_shows_and_clears(services: Services) -> None:
    ui.send(services, ALICE, "Lembre que eu prefiro fotos de praia", None, [])
    view = ui.memory_view(services, ALICE)
    assert "prefiro fotos de praia" in view and "2 messages in memory" in view
    cleared = ui.memory_clear(services, ALICE)
    assert "Cleared 2 messages and 1 facts" in cleared
    assert "none" in ui.memory_view(services, ALICE)


def test_prompt_lab_offline_shows_tool_calls(services: Services, tmp_path: Path) -> None:
    assert ui.lab_models(services) == [ui.OFFLINE]
    ui.send(services, ALICE, "Recibo do mercado", [photo(tmp_path, "receipt")], [])
    history, _, _, trace = ui.lab_send(
        services, ui.OFFLINE, "prompt", ALICE, "mostre o recibo", None, []
    )
    assert "Encontrei" in str(history) and history[-1]["content"] == "Recibo do mercado"
    assert "search\\_photos" in trace and '"query": "mostre o recibo"' in trace
    assert "offline rules" in trace and " ms" in trace


def test_prompt_lab_with_a_model_and_a_saved_prompt(sandbox: Sandbox, tmp_path: Path) -> None:
    fake = FakeOpenAI()
    try:
        env = {
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": fake.url,
            "OPENAI_MODEL": "fake-gpt",
            "OPENAI_MAX_RETRIES": 0,
        }
        services = sandbox.fresh(**env)
        assert ui.lab_models(services) == [ui.OFFLINE, "fake-gpt"]
        services.catalog.create_entry(ALICE, "Meu cachorro", [])
        fake.script = [Call([("search_photos", {"query": "cachorro"})]), Say("Achei!")]
        prompt = "Você é um bibliotecário de fotos muito formal."
        history, _, _, trace = ui.lab_send(
            services, "other-model", prompt, ALICE, "cadê o cachorro?", None, []
        )
        assert history[-1]["content"] == "Achei\\!"  # Markdown-escaped: shown as typed
        assert fake.recorded.chats[0]["model"] == "other-model"
        assert fake.recorded.chats[0]["messages"][0]["content"].startswith(prompt)
        assert "search\\_photos" in trace and "240 total" in trace
        assert '"total_photos": 0' in trace  # an entry without photos is not a photo

        saved = ui.save_prompt(services, prompt, "formal")
        assert "SYSTEM_PROMPT_NAME=formal" in saved
        path = services.settings.data_dir / "prompts" / "formal.md"
        assert path.read_text(encoding="utf-8") == prompt
        assert ui.load_prompt(services, "formal")[0] == prompt
        settings = sandbox.settings(
            **env, DATA_DIR=services.settings.data_dir, SYSTEM_PROMPT_NAME="formal"
        )
        brain = build_brain(settings)
        assert getattr(brain, "system_prompt", None) == prompt
    finally:
        fake.stop()


# --- end to end with gradio_client -------------------------------------------------------


@pytest.fixture
def launched(services: Services) -> Iterator[str]:
    port = free_port()
    app = ui.build_ui(services)
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()


def test_gradio_client_drives_chat_and_catalog(launched: str, tmp_path: Path) -> None:
    client = Client(launched, verbose=False)
    history, *_rest, status = client.predict(
        ALICE,
        "Bolo de aniversário da vovó",
        [handle_file(photo(tmp_path, "cake"))],
        [],
        None,
        api_name="/send",
    )[:4]
    assert "Foto salva" in str(history[-1]["content"])
    # The client's copy of the history is in Gradio's wire format; start the next from [].
    history, _, _, status, _ = client.predict(
        ALICE, "mostre fotos do bolo", None, [], None, api_name="/send"
    )
    assert "file" in str(history) and "Encontrei" in str(history)
    assert "offline rules" in status
    # States (the page of photos) stay in the browser: the API answers with the summary.
    summary = client.predict(ALICE, "aniversario", "", "", "", "day", api_name="/catalog")
    assert "1 entry for" in summary


def test_catalog_filters_dates_and_types_and_groups_by_month(
    services: Services, tmp_path: Path
) -> None:
    from assistant.web.ui.catalog import catalog_browse

    for n, (text, when) in enumerate(
        [
            ("Gato no sofá", "2026-09-03 12:00+00"),
            ("Gato na janela", "2026-10-15 23:30+00"),
            ("Gato dormindo", "2026-11-02 01:00+00"),
        ]
    ):
        image = str(_png(n)) if n == 2 else photo(tmp_path, f"jpeg cat {n}")
        ui.send(services, ALICE, text, [image], None)
        services.db.execute(
            "UPDATE descriptions SET created_at = %s WHERE id = (SELECT max(id) FROM descriptions)",
            (when,),
        )
    by_month = catalog_browse(services, ALICE, "", group_by="month")
    assert [g.label for g in by_month.groups] == [
        "November 2026",
        "October 2026",
        "September 2026",
    ]
    # The search, then the date range (UTC days, both ends included).
    october = catalog_browse(services, ALICE, "gato", since="2026-10-01", until="2026-10-15")
    assert [t.caption for g in october.groups for t in g.thumbs] == ["Gato na janela"]
    assert "1 entry for" in october.summary
    pngs = catalog_browse(services, ALICE, "", media_type="image/png")
    assert [t.caption for g in pngs.groups for t in g.thumbs] == ["Gato dormindo"]
    assert "Dates are" in catalog_browse(services, ALICE, "", since="03/10/2026").summary
    assert "at most 200 characters" in catalog_browse(services, ALICE, "x" * 300).summary


def _png(n: int) -> Path:
    import io
    import tempfile

    from PIL import Image

    out = Path(tempfile.mkdtemp()) / f"cat{n}.png"
    image = Image.open(io.BytesIO(sample_image(f"png cat {n}")))
    image.save(out, format="PNG")
    return out
