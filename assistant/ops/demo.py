"""Deterministic demo data through the real assistant path (`python -m assistant demo-data`)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tqdm import tqdm

from assistant.factory import Services
from assistant.models import InboundMedia, InboundMessage
from assistant.ops.samples import sample_image

START = datetime(2026, 9, 7, 8, 0, tzinfo=UTC)
SPAN = timedelta(weeks=12)

PT_SUBJECTS = {
    "pets": [
        "Meu cachorro {a}",
        "Gato dormindo {p}",
        "Cachorrinho novo {p}",
        "Vacinação do cachorro",
        "Passeio com os cães {p}",
    ],
    "documents": [
        "Recibo do mercado de {m}",
        "Nota fiscal da farmácia",
        "Conta de luz de {m}",
        "Conta de água de {m}",
        "Comprovante de pagamento do aluguel",
        "Documento do RG",
        "Boleto do condomínio de {m}",
    ],
    "travel": [
        "Pôr do sol na praia",
        "Montanhas com neve",
        "Praia de {c}",
        "Trilha no parque",
        "Vista do hotel em {c}",
    ],
    "food": [
        "Bolo de aniversário",
        "Receita de pão de queijo",
        "Almoço de domingo",
        "Cardápio do restaurante japonês",
        "Churrasco com amigos",
    ],
    "home": [
        "Vazamento no teto do banheiro",
        "Orçamento do pintor para a cozinha",
        "Planta da casa nova",
        "Sala arrumada",
        "Jardim na primavera",
    ],
    "car": [
        "Carro novo na garagem",
        "Pneu furado na estrada",
        "Placa do carro",
        "Revisão do carro",
    ],
    "work": ["Quadro branco da reunião", "Slides da apresentação", "Crachá do evento"],
}
EN_SUBJECTS = {
    "pets": ["My dog {a}", "Cat sleeping {p}", "New puppy {p}"],
    "documents": [
        "Receipt from the hardware store",
        "Electricity bill for {m}",
        "Passport photo page",
    ],
    "travel": ["Sunset at the beach", "Snowy mountains", "Hotel view in {c}"],
    "food": ["Birthday cake for Anna", "Sunday lunch", "Sushi dinner"],
    "home": ["Leak in the bathroom ceiling", "New kitchen cabinets"],
    "car": ["Flat tire on the highway", "New car in the garage"],
    "work": ["Whiteboard notes from the sprint retro", "Conference badge"],
}
PT_FILL = {
    "a": ["no parque", "brincando", "na praia", "dormindo"],
    "p": ["no sofá", "na caixa", "na janela", "no quintal"],
    "m": ["janeiro", "fevereiro", "março", "abril", "maio"],
    "c": ["Ubatuba", "Floripa", "Salvador", "Paraty"],
}
EN_FILL = {
    "a": ["at the park", "playing", "on the beach", "sleeping"],
    "p": ["on the couch", "in a box", "by the window"],
    "m": ["January", "February", "March"],
    "c": ["Lisbon", "Porto", "Rio"],
}
PT_SEARCHES = [
    "mostre fotos de cachorro",
    "cadê o recibo do mercado",
    "fotos da praia",
    "mostre as contas de luz",
    "busque o orçamento do pintor",
    "mostre fotos do carro",
    "mostre fotos de elefante",
    "cadê o passaporte",
    "mostre a fatura do cartão",
    "procure fotos do casamento",
]
EN_SEARCHES = [
    "show me my dog",
    "find the receipts",
    "show me beach photos",
    "show me the wedding photos",
    "find my passport",
    "show me the invoices",
]


def _caption(rng: random.Random, english: bool) -> str:
    subjects, fill = (EN_SUBJECTS, EN_FILL) if english else (PT_SUBJECTS, PT_FILL)
    template = rng.choice(subjects[rng.choice(sorted(subjects))])
    return template.format(**{k: rng.choice(v) for k, v in fill.items()})


def plan(users: int, entries: int, seed: int) -> list[InboundMessage]:
    """The messages of the demo, in order, with their simulated send times."""
    rng = random.Random(seed)
    phones = [f"+55119{seed % 10}{i:07d}" for i in range(users)]
    english = {p: rng.random() < 0.25 for p in phones}
    # Skewed like real use: a few users save most photos.
    weights = [1 / (rank + 1) for rank in range(users)]
    messages: list[tuple[str, str, list[str]]] = []
    image_no = 0
    for phone in phones:
        messages.append((phone, "Hello" if english[phone] else "oi", []))
    saved = 0
    while saved < entries:
        phone = rng.choices(phones, weights)[0]
        en = english[phone]
        roll = rng.random()
        if roll < 0.70:
            image_no += 1
            messages.append((phone, _caption(rng, en), [f"demo-{seed}-{image_no}"]))
            saved += 1
        elif roll < 0.80:
            count = rng.choice([1, 1, 2])
            names = []
            for _ in range(count):
                image_no += 1
                names.append(f"demo-{seed}-{image_no}")
                messages.append((phone, "", names[-1:]))
            messages.append((phone, _caption(rng, en), []))
            saved += 1
        elif roll < 0.95:
            messages.append((phone, rng.choice(EN_SEARCHES if en else PT_SEARCHES), []))
        elif roll < 0.97:
            messages.append((phone, "my latest photos" if en else "minhas últimas fotos", []))
        elif roll < 0.99:
            messages.append((phone, "help" if en else "ajuda", []))
        else:
            fact = "I like landscape photos" if en else "prefiro fotos de paisagem"
            messages.append((phone, f"remember that {fact}" if en else f"lembre que {fact}", []))
    step = SPAN / max(len(messages), 1)
    out = []
    for n, (phone, text, images) in enumerate(messages):
        when = START + step * n + timedelta(seconds=rng.randint(0, 59))
        media = [
            InboundMedia(data=sample_image(name), content_type="image/jpeg") for name in images
        ]
        out.append(
            InboundMessage(
                sender=phone,
                text=text,
                media=media,
                channel="demo",
                message_id=f"DEMO{seed}-{n:06d}",
                received_at=when,
            )
        )
    return out


def fill(
    services: Services, users: int = 20, entries: int = 2000, seed: int = 1, progress: bool = True
) -> dict[str, int]:
    """Send the demo messages through `Assistant.handle`, then date rows as simulated."""
    messages = plan(users, entries, seed)
    db = services.db
    for message in tqdm(messages, desc="demo-data", unit="msg", disable=not progress):
        marks = db.fetchone(
            "SELECT (SELECT coalesce(max(id), 0) FROM messages) AS m,"
            " (SELECT coalesce(max(id), 0) FROM descriptions) AS d,"
            " (SELECT coalesce(max(id), 0) FROM images) AS i"
        )
        assert marks is not None
        services.assistant.handle(message)
        with db.connection() as conn:
            # Replies come a moment after the message; rows are stamped with the simulated
            # time so weekly analyses have something to show.
            when = message.received_at
            conn.execute(
                "UPDATE messages SET created_at = %s + (CASE direction WHEN 'in' THEN 0"
                " ELSE 1 END) * interval '2 seconds' WHERE id > %s",
                (when, marks["m"]),
            )
            conn.execute(
                "UPDATE descriptions SET created_at = %s WHERE id > %s", (when, marks["d"])
            )
            conn.execute("UPDATE images SET created_at = %s WHERE id > %s", (when, marks["i"]))
            conn.execute(
                "UPDATE users SET created_at = least(created_at, %s),"
                " last_seen_at = %s WHERE phone = %s",
                (when, when, message.sender),
            )
    counts = db.fetchone(
        "SELECT (SELECT count(*) FROM users) AS users,"
        " (SELECT count(*) FROM descriptions) AS entries,"
        " (SELECT count(*) FROM images) AS images,"
        " (SELECT count(*) FROM messages) AS messages"
    )
    assert counts is not None
    return {k: int(v) for k, v in counts.items()}
