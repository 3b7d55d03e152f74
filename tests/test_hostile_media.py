"""Small files that cost a lot (issue #23, high findings): each payload is refused or
processed within a budget, and one user's heavy media never holds another's text reply.

The memory tests run the payload in a child process whose address space is capped at
what it had after its imports plus a few hundred MB: before these fixes each payload
needed gigabytes there (the audit measured 2.4 GB, 3.1 GB and +900 MB) and died with a
MemoryError; now each finishes inside the cap.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from assistant.factory import Services
from assistant.media import MediaRejected, inspect_image
from assistant.media.inspect import derive
from assistant.models import InboundMedia, InboundMessage
from assistant.ops.samples import sample_image
from assistant.ops.sandbox import Sandbox
from assistant.speech import AudioTooLong, UnsupportedCodec, probe
from assistant.speech.audio import decode
from assistant.worker import WorkerPool
from tests.helpers.catalog import SpyTranscriber, joined, send
from tests.helpers.hostile import (
    big_rgba_png,
    flac_in_ogg,
    jpeg_with_scans,
    opus_in_ogg,
    png_of_zeros,
    png_with_text_bomb,
    tall_png,
    wide_png,
)

ROOT = Path(__file__).resolve().parents[1]
ALICE, BOB = "+5511999990001", "+5511999990002"


def run_capped(code: str, extra_mb: int) -> subprocess.CompletedProcess[str]:
    """`code` in a child whose address space may grow `extra_mb` past its size after the
    imports in `code`'s first lines (marked by `cap()`)."""
    prelude = textwrap.dedent(
        f"""
        import resource, sys
        sys.path.insert(0, {str(ROOT)!r})
        def cap():
            size = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0])
            limit = (size + {extra_mb} * 1024) * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "HOME": str(ROOT)},
    )


# --- audio --------------------------------------------------------------------------------


def test_a_200_byte_audio_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = flac_in_ogg(rate=10)
    assert len(bomb) < 400
    with pytest.raises(UnsupportedCodec):
        probe(bomb, 300)
    with pytest.raises(UnsupportedCodec):
        decode(bomb, 300)
    result = run_capped(
        """
        from tests.helpers.hostile import flac_in_ogg
        from assistant.speech.audio import decode, UnsupportedCodec
        import av, numpy
        bomb = flac_in_ogg(rate=1)
        cap()
        try:
            decode(bomb, 300)
        except UnsupportedCodec as exc:
            print("refused", exc)
        """,
        extra_mb=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused ogg/flac" in result.stdout


def test_the_frame_budget_holds_even_for_an_allowed_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were FLAC allowed and any rate accepted, the one huge frame would still be
    refused from its length before it is resampled."""
    from assistant.speech import audio

    monkeypatch.setitem(audio.ALLOWED_CODECS, "audio/ogg", frozenset({"opus", "flac"}))
    options = {**audio.OPEN_OPTIONS, "codec_whitelist": "opus,flac"}
    monkeypatch.setattr(audio, "OPEN_OPTIONS", options)
    monkeypatch.setattr(audio, "MIN_RATE", 1)
    with pytest.raises(AudioTooLong) as refused:
        decode(flac_in_ogg(rate=10), 300)
    assert refused.value.seconds > 6000


def test_a_flac_voice_note_gets_a_clear_reply_and_no_engine_hears_it(services: Services) -> None:
    spy = SpyTranscriber()
    heard = spy.heard
    services.assistant.transcriber = spy
    reply = joined(send(services, ALICE, "", flac_in_ogg()))
    assert "Não consigo transcrever" in reply or "formato" in reply, reply
    assert heard == []
    # The note itself is kept (nothing is lost), as for any other untranscribable note.
    assert services.db.scalar("SELECT count(*) FROM messages WHERE media::text LIKE '%audio%'")


def test_the_length_limit_is_checked_before_any_engine(sandbox: Sandbox) -> None:
    """A paid engine (OpenAI) used to receive a 600 s note: only its 25 MB limit applied."""
    services = sandbox.fresh(MAX_AUDIO_SECONDS=2)
    paid = SpyTranscriber("openai:spy", "oi")
    heard = paid.heard
    services.assistant.transcriber = paid
    try:
        reply = joined(send(services, ALICE, "", opus_in_ogg(5)))
        assert "eu transcrevo até 2 s" in reply, reply
        assert heard == []
        reply = joined(send(services, ALICE, "", opus_in_ogg(1.5)))
        assert len(heard) == 1  # within the limit it is heard
    finally:
        services.close()


def test_a_video_stream_in_an_audio_file_is_never_decoded() -> None:
    """Opening a file probes every stream: a PNG "video" frame of 10000² in an MP4 cost
    300 MB before the audio was even looked at. Only audio demuxers and decoders run."""
    result = run_capped(
        """
        from tests.helpers.hostile import audio_with_video
        from assistant.speech.audio import probe, UnsupportedAudio
        import av, numpy
        data = audio_with_video(10_000)
        cap()
        try:
            probe(data, 300)
        except UnsupportedAudio as exc:
            print("refused", type(exc).__name__)
        """,
        extra_mb=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused UnsupportedCodec" in result.stdout


def test_a_note_of_countless_tiny_frames_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from assistant.speech import audio

    monkeypatch.setattr(audio, "MAX_FRAMES_PER_SECOND", 5)  # 0.1 s frames are "tiny" now
    with pytest.raises(UnsupportedCodec, match="frames"):
        probe(opus_in_ogg(3), 300)


# --- images -------------------------------------------------------------------------------


def test_a_jpeg_of_thousands_of_scans_is_refused_from_its_markers() -> None:
    data = jpeg_with_scans(2_000, 1_000)
    with pytest.raises(MediaRejected, match="JPEG scans") as refused:
        inspect_image(data, 5 * 2**20, 50_000_000)
    assert refused.value.reason == "unsupported"
    assert inspect_image(jpeg_with_scans(3, 1_000), 5 * 2**20, 50_000_000).width == 1_000


def test_an_interlaced_png_is_budgeted_as_decoded_whole() -> None:
    """Adam7 cannot be streamed: a 6000² 16-bit RGBA interlaced PNG (280 KB) cost 319 MB."""
    big = png_of_zeros(5_000, 5_000, color_type=6, channels=4, depth=16, interlace=1)
    with pytest.raises(MediaRejected) as refused:
        inspect_image(big, 5 * 2**20, 50_000_000)
    assert refused.value.reason == "too_many_pixels" and refused.value.limit == 6_291_456
    small = png_of_zeros(2_000, 2_000, color_type=2, channels=3, interlace=1)
    assert inspect_image(small, 5 * 2**20, 50_000_000).width == 2_000


def test_a_photo_corrupt_past_its_header_gets_a_reply_not_a_crash(services: Services) -> None:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 20, 30)).save(out, format="PNG")
    broken = out.getvalue()[:-60] + bytes(40) + out.getvalue()[-20:]
    reply = joined(send(services, ALICE, "foto", broken))
    assert "Não consigo guardar esse tipo de arquivo" in reply, reply
    assert services.db.scalar("SELECT count(*) FROM images") == 0


def test_a_png_whose_text_chunk_inflates_too_far_is_refused_not_a_crash(
    services: Services,
) -> None:
    """Pillow raises ValueError for a text chunk past MAX_TEXT_CHUNK: it escaped
    `inspect_image`, and `Assistant.handle` raised for an 8 KB photo."""
    bomb = png_with_text_bomb()
    assert len(bomb) < 16_000
    with pytest.raises(MediaRejected) as refused:
        inspect_image(bomb, 5 * 2**20, 50_000_000)
    assert refused.value.reason == "unsupported"
    reply = joined(send(services, ALICE, "", bomb))
    assert "Não consigo guardar esse tipo de arquivo" in reply, reply
    assert services.db.scalar("SELECT count(*) FROM images") == 0


@pytest.mark.parametrize("make", [tall_png, wide_png], ids=["1x40M", "49999999x1"])
def test_extreme_shapes_under_the_pixel_cap_are_refused_from_the_header(make) -> None:  # type: ignore[no-untyped-def]
    data = make()
    assert len(data) < 100_000
    with pytest.raises(MediaRejected) as refused:
        inspect_image(data, 5 * 2**20, 50_000_000)
    assert refused.value.reason == "bad_shape"


def test_an_extreme_shape_gets_a_clear_reply_and_nothing_is_stored(services: Services) -> None:
    reply = joined(send(services, ALICE, "recibo", tall_png()))
    assert "formato extremo (1×40000000 pixels)" in reply, reply
    assert "proporção de até 25:1" in reply
    assert services.db.scalar("SELECT count(*) FROM images") == 0


def test_shapes_real_people_send_are_kept() -> None:
    """A panorama and a long phone screenshot pass the shape rules."""
    for width, height in [(12_000, 3_000), (1_080, 16_000)]:
        info = inspect_image(png_of_zeros(width, height), 5 * 2**20, 50_000_000)
        assert (info.width, info.height) == (width, height)


def test_a_large_png_is_thumbnailed_within_a_memory_budget() -> None:
    """A 200 KB RGBA PNG of 7070² (50 MP, 200 MB decoded) used to cost +900 MB."""
    result = run_capped(
        """
        from tests.helpers.hostile import big_rgba_png
        from assistant.media.inspect import derive, reduced, _vips
        data = big_rgba_png()
        _vips()  # the library's own code is loaded before the cap
        cap()
        thumb = derive(data, 320)
        page = reduced(data, 1280)
        print("ok", len(thumb), page.size)
        """,
        extra_mb=250,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok" in result.stdout and "(1280, 1280)" in result.stdout


def test_the_streamed_decode_keeps_the_picture() -> None:
    """Large PNGs take the streamed path: the thumbnail still shows the image."""
    from PIL import Image

    big = Image.new("RGB", (4_000, 1_500), (255, 255, 255))
    big.paste((200, 0, 0), (0, 0, 2_000, 1_500))  # left half red
    import io

    out = io.BytesIO()
    big.save(out, format="PNG")
    thumb = derive(out.getvalue(), 320)
    small = Image.open(io.BytesIO(thumb))
    assert small.size == (320, 120)
    assert small.getpixel((40, 60))[0] > 150 and small.getpixel((40, 60))[1] < 60
    assert small.getpixel((280, 60)) > (230, 230, 230)


def test_a_progressive_jpeg_over_the_decoding_budget_is_refused(services: Services) -> None:
    import io

    import numpy as np
    from PIL import Image

    noise = np.random.default_rng(1).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    big = Image.fromarray(noise).resize((6_000, 6_000))
    out = io.BytesIO()
    big.save(out, format="JPEG", quality=20, progressive=True, subsampling=0)
    with pytest.raises(MediaRejected) as refused:
        inspect_image(out.getvalue(), 20 * 2**20, 50_000_000)
    assert refused.value.reason == "too_many_pixels"
    assert refused.value.limit is not None and 15_000_000 < refused.value.limit < 18_000_000
    # The same picture as a baseline JPEG decodes at 1/8 scale: kept.
    out = io.BytesIO()
    big.save(out, format="JPEG", quality=20)
    assert inspect_image(out.getvalue(), 20 * 2**20, 50_000_000).width == 6_000


def test_one_message_has_a_pixel_budget(services: Services) -> None:
    """Three 50 MP PNGs in one message: two are kept (100 MP), the third is not even
    decoded, and the user is told."""
    pngs = [png_of_zeros(7_070, 7_070, color_type=2, channels=3) for _ in range(3)]
    pngs = [p + bytes([i]) for i, p in enumerate(pngs)]  # three distinct files
    reply = joined(send(services, ALICE, "quadros", *pngs))
    assert services.db.scalar("SELECT count(*) FROM images") == 2
    assert "Guardei só as primeiras imagens" in reply and "(1)" in reply, reply


# --- one user's media and another user's text ------------------------------------------------


def test_attachments_count_in_the_rate_limit(sandbox: Sandbox) -> None:
    services = sandbox.fresh(RATE_LIMIT_PER_MINUTE=3)
    try:
        photos = [InboundMedia(url=f"https://api.twilio.com/m/{i}") for i in range(4)]
        services.inbox.enqueue(
            ALICE, InboundMessage(sender=ALICE, media=photos, message_id="SM1"), None
        )
        services.inbox.enqueue(BOB, InboundMessage(sender=BOB, text="oi", message_id="SM2"), None)
        claim = services.inbox.claim("w")
        assert claim is not None and claim.owner == ALICE
        assert services.inbox.over_rate_limit(claim) == (True, True)
        claim = services.inbox.claim("w")
        assert claim is not None and claim.owner == BOB
        assert services.inbox.over_rate_limit(claim) == (False, False)
    finally:
        services.close()


def test_a_text_lane_answers_while_heavy_media_is_being_worked_on(services: Services) -> None:
    """Alice's photo is stuck in the middle of its work (its download waits); Bob's text
    is answered meanwhile by the pool's text thread, and Alice's photo after."""
    started, release = threading.Event(), threading.Event()

    def slow_fetch(_channel: str, _item: InboundMedia) -> tuple[bytes, str | None]:
        started.set()
        assert release.wait(60)
        return sample_image("alice"), "image/jpeg"

    services.assistant.fetch_media = slow_fetch
    media = [InboundMedia(url="https://api.twilio.com/m/1", content_type="image/jpeg")]
    message = InboundMessage(sender=ALICE, text="gato", media=media, message_id="SM1")
    services.inbox.enqueue(ALICE, message, None)
    pool = WorkerPool(services, threads=2)
    assert pool.lanes == ["any", "text"]
    pool.start()
    try:
        assert started.wait(30)
        services.inbox.enqueue(
            BOB, InboundMessage(sender=BOB, text="ajuda", message_id="SM2"), None
        )
        done = threading.Event()

        def bob_done() -> bool:
            return bool(
                services.db.scalar(
                    "SELECT count(*) FROM inbox WHERE owner = %s AND status = 'done'", (BOB,)
                )
            )

        for _ in range(300):
            if bob_done():
                done.set()
                break
            release.wait(0.1)
        assert done.is_set(), "Bob's text waited behind Alice's photo"
        status = services.db.scalar("SELECT status FROM inbox WHERE owner = %s", (ALICE,))
        assert status == "processing"
    finally:
        release.set()
        pool.stop()
    assert services.db.scalar("SELECT status FROM inbox WHERE owner = %s", (ALICE,)) == "done"
    # One thread alone takes everything.
    assert WorkerPool(services, threads=1).lanes == ["any"]
    assert WorkerPool(services, threads=4, media_threads=2).lanes == [
        "any",
        "any",
        "text",
        "text",
    ]


def test_a_big_png_sent_alone_is_saved_and_read_within_budget(services: Services) -> None:
    """The 7070² RGBA PNG within the caps is processed (thumbnail, hash, OCR attempt)."""
    reply = joined(send(services, ALICE, "", big_rgba_png()))
    assert services.db.scalar("SELECT count(*) FROM images") == 1
    assert reply  # asked for a description (no text in a black image)
