"""Generate the development set of photos with text (`tests/data/ocr/` + `ocr_dev.json`).

Deterministic (fixed seed): running it again writes the same files. Documents people send
on WhatsApp, in Portuguese and English: receipts, boletos, utility bills, bus timetables,
chat screenshots, prescriptions, menus, signs, Wi-Fi cards, ID-like cards, invoices. Each
is drawn in one of several fonts (DejaVu from matplotlib; Liberation when Debian's
fonts-liberation is installed) and photographed badly: rotated a few degrees, in
perspective, blurred, noisy, unevenly lit, saved as JPEG at quality ~60. The first half of
each kind is "clean" (only a slight rotation): the character accuracy target is measured
on those. A few real photos without text (shipped with matplotlib and gradio) are added.

    .venv/bin/python tests/data/make_ocr_set.py
"""

from __future__ import annotations

import io
import json
import random
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = Path(__file__).resolve().parent
SEED = 20261126


def fonts() -> list[Path]:
    import matplotlib

    mpl = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    found = [mpl / "DejaVuSans.ttf", mpl / "DejaVuSerif.ttf", mpl / "DejaVuSansMono.ttf"]
    liberation = Path("/usr/share/fonts/truetype/liberation")
    for name in ("LiberationSans-Regular.ttf", "LiberationSerif-Regular.ttf"):
        if (liberation / name).exists():
            found.append(liberation / name)
    return found


# (id, kind, lines, search text a person would type). Lines are what is printed.
DOCUMENTS: list[tuple[str, list[str]]] = [
    (
        "r01",
        [
            "PADARIA SÃO JOÃO LTDA",
            "CNPJ 12.345.678/0001-90",
            "CUPOM FISCAL",
            "Pão francês 10x  R$ 8,50",
            "Café com leite  R$ 6,39",
            "Bolo de fubá  R$ 20,00",
            "TOTAL R$ 34,89",
            "12/03/2025 08:41",
        ],
    ),
    (
        "r02",
        [
            "SUPERMERCADO BOM PREÇO",
            "NOTA FISCAL DE CONSUMIDOR",
            "Arroz 5kg  R$ 27,90",
            "Feijão preto  R$ 8,49",
            "Açúcar cristal  R$ 5,19",
            "TOTAL R$ 41,58",
            "03/02/2025 19:12",
        ],
    ),
    (
        "r03",
        [
            "FARMÁCIA POPULAR DROGASIL",
            "RECIBO",
            "Dipirona 500mg  R$ 12,90",
            "Protetor solar  R$ 59,90",
            "TOTAL R$ 72,80",
            "21/04/2025",
        ],
    ),
    (
        "r04",
        [
            "GREEN VALLEY PHARMACY",
            "RECEIPT",
            "Ibuprofen 200mg  $8.99",
            "Vitamin C  $12.49",
            "TOTAL $21.48",
            "05/14/2025 10:02",
        ],
    ),
    (
        "r05",
        [
            "JOE'S COFFEE SHOP",
            "RECEIPT #4471",
            "Cappuccino  $4.50",
            "Blueberry muffin  $3.25",
            "TOTAL $7.75",
            "Thank you!",
        ],
    ),
    (
        "r06",
        [
            "POSTO IPIRANGA AV BRASIL",
            "CUPOM FISCAL",
            "Gasolina comum 32,5L",
            "TOTAL R$ 198,25",
            "09/01/2025 07:55",
        ],
    ),
    (
        "b01",
        [
            "BOLETO BANCÁRIO",
            "Beneficiário: CONDOMÍNIO EDIFÍCIO AURORA",
            "Taxa de condomínio - março",
            "Vencimento 10/03/2025",
            "Valor R$ 850,00",
            "34191.79001 01043.510047 91020.150008 1 99990000085000",
        ],
    ),
    (
        "b02",
        [
            "BOLETO",
            "Beneficiário: ESCOLA MONTEIRO LOBATO",
            "Mensalidade escolar abril",
            "Vencimento 05/04/2025",
            "Valor R$ 1.290,00",
        ],
    ),
    (
        "c01",
        [
            "ENEL DISTRIBUIÇÃO SÃO PAULO",
            "CONTA DE ENERGIA ELÉTRICA",
            "Consumo 245 kWh",
            "Referência FEV/2025",
            "Total a pagar R$ 187,43",
            "Vencimento 18/03/2025",
        ],
    ),
    (
        "c02",
        [
            "SABESP",
            "CONTA DE ÁGUA E ESGOTO",
            "Consumo 12 m³",
            "Referência JAN/2025",
            "Total a pagar R$ 96,10",
        ],
    ),
    (
        "c03",
        [
            "CITY POWER & LIGHT",
            "ELECTRICITY BILL",
            "Usage 512 kWh",
            "Billing period March 2025",
            "Amount due $143.20",
            "Due date 04/15/2025",
        ],
    ),
    (
        "h01",
        [
            "SPTRANS",
            "HORÁRIO DA LINHA 702U",
            "Terminal Pinheiros - Jd. Boa Vista",
            "Dias úteis: 05:10 05:40 06:05 06:30",
            "Sábados: 06:00 07:00 08:00",
            "Domingos: 07:30 09:30",
        ],
    ),
    (
        "h02",
        [
            "METRO BUS",
            "ROUTE 14 TIMETABLE",
            "Downtown - Airport",
            "Weekdays 06:15 06:45 07:15",
            "Saturday 08:00 09:00",
            "Sunday no service",
        ],
    ),
    (
        "h03",
        [
            "ÔNIBUS INTERMUNICIPAL",
            "HORÁRIO LINHA 380",
            "Campinas - Sumaré",
            "Saídas 06:20 07:40 09:00 12:30 17:50",
        ],
    ),
    (
        "s01",
        [
            "Conversa com Mãe",
            "Mãe: não esquece o remédio do vovô",
            "Eu: pode deixar, compro amanhã",
            "Mãe: e a vacina do cachorro é sexta",
            "21:14",
        ],
    ),
    (
        "s02",
        [
            "Chat with Alex",
            "Alex: the meeting moved to Thursday 3pm",
            "Me: ok, room 204?",
            "Alex: yes, bring the slides",
            "18:02",
        ],
    ),
    (
        "s03",
        [
            "Grupo Família",
            "Tia Rosa: churrasco no domingo às 13h",
            "Pedro: levo a farofa",
            "Ana: eu levo o bolo de chocolate",
        ],
    ),
    (
        "p01",
        [
            "RECEITUÁRIO MÉDICO",
            "Dra. Helena Costa CRM 123456",
            "Paciente: Maria Souza",
            "Amoxicilina 500mg",
            "1 cápsula de 8 em 8 horas",
            "por 7 dias",
            "15/02/2025",
        ],
    ),
    (
        "p02",
        [
            "PRESCRIPTION",
            "Dr. James Miller",
            "Patient: John Carter",
            "Amoxicillin 250mg",
            "Take twice daily for 10 days",
        ],
    ),
    (
        "m01",
        [
            "CARDÁPIO",
            "RESTAURANTE SABOR DA TERRA",
            "Feijoada completa  R$ 45,00",
            "Moqueca de peixe  R$ 62,00",
            "Pudim de leite  R$ 14,00",
            "Caipirinha  R$ 18,00",
        ],
    ),
    (
        "m02",
        [
            "MENU",
            "LUIGI'S PIZZERIA",
            "Margherita  $14",
            "Pepperoni  $16",
            "Tiramisu  $8",
            "Lemonade  $4",
        ],
    ),
    (
        "m03",
        [
            "CARDÁPIO DO DIA",
            "LANCHONETE DA PRAÇA",
            "Coxinha  R$ 7,00",
            "Pastel de queijo  R$ 9,00",
            "Suco de laranja  R$ 8,00",
        ],
    ),
    ("g01", ["PROIBIDO ESTACIONAR", "GARAGEM", "GUINCHO 24H", "Tel. (11) 3456-7890"]),
    ("g02", ["CUIDADO", "PISO MOLHADO", "WET FLOOR"]),
    ("g03", ["ALUGA-SE", "APARTAMENTO 2 QUARTOS", "Tratar: (21) 98765-4321"]),
    ("g04", ["NO PARKING", "TOW AWAY ZONE", "Violators will be towed"]),
    ("w01", ["REDE WI-FI", "Rede: CASA_SILVA_5G", "Senha: girassol2025"]),
    ("w02", ["WIFI GUEST", "Network: HotelAzul_Guest", "Password: oceano@482"]),
    ("w03", ["WI-FI DO ESCRITÓRIO", "Rede: Escritorio-Coworking", "Senha: cafe&codigo77"]),
    (
        "i01",
        [
            "REPÚBLICA FEDERATIVA DO BRASIL",
            "CARTEIRA DE IDENTIDADE",
            "Nome: JOÃO PEREIRA DA SILVA",
            "Data de nascimento: 14/07/1988",
            "Registro Geral 12.345.678-9",
        ],
    ),
    (
        "i02",
        [
            "CARTEIRA DE ESTUDANTE",
            "UNIVERSIDADE FEDERAL DO PARANÁ",
            "Nome: LUCAS ALMEIDA",
            "Validade 12/2025",
        ],
    ),
    (
        "i03",
        [
            "MEMBERSHIP CARD",
            "CITY GYM",
            "Name: SARAH CONNOR",
            "Member 00482",
            "Valid until 08/2026",
        ],
    ),
    (
        "v01",
        [
            "INVOICE #2025-0193",
            "ACME WEB SERVICES",
            "Hosting plan annual  $240.00",
            "Domain renewal  $15.00",
            "Total due $255.00",
            "Due 30 days",
        ],
    ),
    (
        "v02",
        [
            "NOTA FISCAL DE SERVIÇO",
            "OFICINA MECÂNICA DO ZÉ",
            "Troca de óleo  R$ 180,00",
            "Alinhamento  R$ 90,00",
            "TOTAL R$ 270,00",
        ],
    ),
    (
        "v03",
        [
            "ORÇAMENTO",
            "MARCENARIA BOA MADEIRA",
            "Armário de cozinha sob medida",
            "Valor R$ 4.800,00",
            "Validade 15 dias",
        ],
    ),
    (
        "t01",
        ["INGRESSO", "SHOW DO SKANK", "Allianz Parque", "Sábado 22/11 21:00", "Pista R$ 180,00"],
    ),
    ("t02", ["BOARDING PASS", "FLIGHT LA 3471", "GRU - GIG", "Gate 12 Seat 14C", "Boarding 10:35"]),
    ("t03", ["ESTACIONAMENTO SHOPPING", "TICKET 004511", "Entrada 14:32", "Placa ABC1D23"]),
    ("n01", ["LISTA DE COMPRAS", "leite", "ovos", "café", "papel higiênico", "banana"]),
    (
        "n02",
        [
            "VACINAÇÃO",
            "CARTEIRA DO PET",
            "Nome: Thor",
            "Antirrábica 10/05/2025",
            "Clínica Veterinária Patas",
        ],
    ),
    ("n03", ["REUNIÃO DE PAIS", "ESCOLA ESTADUAL", "Quinta-feira 19h", "Auditório"]),
    ("n04", ["GARANTIA", "GELADEIRA FROST FREE", "Número de série 88A7710", "Válida até 03/2027"]),
]

# Queries: words people would type; relevant: documents they expect among the first 5.
QUERIES: list[tuple[str, list[str]]] = [
    ("mostre o recibo da padaria", ["r01"]),
    ("recibo da padaria são joão", ["r01"]),
    ("34,89", ["r01"]),
    ("cupom fiscal do supermercado", ["r02"]),
    ("recibo da farmácia", ["r03"]),
    ("show me the pharmacy receipt", ["r04"]),
    ("coffee shop receipt", ["r05"]),
    ("nota do posto de gasolina", ["r06"]),
    ("mostre o boleto do condomínio", ["b01"]),
    ("boleto da escola", ["b02"]),
    ("conta de luz", ["c01"]),
    ("conta de água", ["c02"]),
    ("electricity bill", ["c03"]),
    ("horário da linha 702", ["h01"]),
    ("702", ["h01"]),
    ("bus timetable route 14", ["h02"]),
    ("horário do ônibus para sumaré", ["h03"]),
    ("conversa com minha mãe sobre o remédio", ["s01"]),
    ("mensagem do alex sobre a reunião", ["s02"]),
    ("churrasco no domingo", ["s03"]),
    ("receita da amoxicilina", ["p01"]),
    ("prescription amoxicillin", ["p02"]),
    ("cardápio do restaurante", ["m01"]),
    ("pizza menu", ["m02"]),
    ("preço da coxinha", ["m03"]),
    ("placa de proibido estacionar", ["g01"]),
    ("piso molhado", ["g02"]),
    ("apartamento para alugar", ["g03"]),
    ("senha do wifi", ["w01", "w03"]),
    ("hotel wifi password", ["w02"]),
    ("senha do wifi do escritório", ["w03"]),
    ("meu rg", ["i01"]),
    ("carteira de estudante", ["i02"]),
    ("gym membership card", ["i03"]),
    ("invoice for web hosting", ["v01"]),
    ("nota da oficina troca de óleo", ["v02"]),
    ("orçamento do armário", ["v03"]),
    ("ingresso do show", ["t01"]),
    ("cartão de embarque", ["t02"]),
    ("ticket do estacionamento", ["t03"]),
    ("lista de compras", ["n01"]),
    ("vacina do cachorro thor", ["n02"]),
    ("garantia da geladeira", ["n04"]),
    # Things nobody saved (some with a look-alike in the catalog).
    ("recibo do dentista", []),
    ("conta de gás", []),
    ("horário da linha 805", []),
    ("senha do banco", []),
    ("passaporte", []),
    ("boleto do cartão de crédito", []),
    ("fotos da praia", []),
    ("ingresso do cinema", []),
    ("receipt from the hardware store", []),
    ("train tickets", []),
    ("cardápio de sushi", []),
]

PHOTOS_WITHOUT_TEXT = ["grace_hopper.jpg"]


def draw_document(lines: list[str], font_path: Path, rng: random.Random) -> Image.Image:
    size = rng.choice([30, 34, 38])
    font = ImageFont.truetype(str(font_path), size)
    title = ImageFont.truetype(str(font_path), size + 6)
    width = max(int((title if i == 0 else font).getlength(line)) for i, line in enumerate(lines))
    width += 120
    height = 80 + len(lines) * (size + 22)
    paper = rng.choice([(255, 255, 255), (250, 247, 238), (240, 244, 250)])
    img = Image.new("RGB", (max(width, 520), height), paper)
    draw = ImageDraw.Draw(img)
    y = 40
    for i, line in enumerate(lines):
        draw.text((60, y), line, fill=(20, 20, 20), font=title if i == 0 else font)
        y += size + 22
    return img


def photograph(img: Image.Image, rng: random.Random, clean: bool) -> Image.Image:
    """What a phone camera makes of a document."""
    angle = rng.uniform(-2, 2) if clean else rng.uniform(-5, 5)
    img = img.rotate(angle, expand=True, fillcolor=(90, 90, 95), resample=Image.Resampling.BICUBIC)
    margin = 40
    table = Image.new("RGB", (img.width + 2 * margin, img.height + 2 * margin), (90, 90, 95))
    table.paste(img, (margin, margin))
    img = table
    if clean:
        return img
    w, h = img.size
    d = [rng.uniform(0, 0.05) for _ in range(8)]  # perspective: move the corners a little
    quad = (
        d[0] * w,
        d[1] * h,
        d[2] * w,
        h - d[3] * h,
        w - d[4] * w,
        h - d[5] * h,
        w - d[6] * w,
        d[7] * h,
    )
    img = img.transform((w, h), Image.Transform.QUAD, quad, Image.Resampling.BICUBIC)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.1)))
    # Uneven light: a brightness gradient across the page.
    light = Image.linear_gradient("L").resize((w, h)).rotate(rng.uniform(0, 360))
    dark = Image.new("RGB", (w, h), (0, 0, 0))
    img = Image.composite(img, Image.blend(img, dark, 0.35), light)
    # Sensor noise from the seeded generator (PIL's effect_noise draws from C's rand():
    # not reproducible).
    sigma = rng.uniform(10, 25)
    grain = np.random.default_rng(rng.randrange(2**32)).normal(128, sigma, (h, w))
    noise = Image.fromarray(grain.clip(0, 255).astype(np.uint8), "L").convert("RGB")
    return Image.blend(img, noise, 0.08)


def main(here: Path = HERE) -> None:
    """Write `here/ocr/*.jpg` and `here/ocr_dev.json` (the tests regenerate into a temporary
    folder and compare)."""
    rng = random.Random(SEED)
    out_dir = here / "ocr"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir()
    available = fonts()
    entries = []
    seen_kinds: dict[str, int] = {}
    for doc_id, lines in DOCUMENTS:
        kind = doc_id[0]
        seen_kinds[kind] = seen_kinds.get(kind, 0) + 1
        clean = seen_kinds[kind] % 2 == 1  # the first, third... of each kind: clean
        font = available[len(entries) % len(available)]
        img = photograph(draw_document(lines, font, rng), rng, clean)
        out = io.BytesIO()
        img.save(out, format="JPEG", quality=60)
        (out_dir / f"{doc_id}.jpg").write_bytes(out.getvalue())
        entries.append(
            {
                "id": doc_id,
                "image": f"ocr/{doc_id}.jpg",
                "truth": "\n".join(lines),
                "clean": clean,
                "font": font.name,
            }
        )
    import matplotlib

    sample_data = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
    for name in PHOTOS_WITHOUT_TEXT:
        target = out_dir / name
        shutil.copyfile(sample_data / name, target)
        entries.append({"id": Path(name).stem, "image": f"ocr/{name}", "truth": "", "clean": True})
    data = {
        "about": "Photos with text sent without a caption (generated by make_ocr_set.py, "
        "deterministic). Entries have an image and no text: they are read by the OCR "
        "pipeline. 'truth' is the printed text (character accuracy). Queries with an "
        "empty 'relevant' ask for things nobody saved (false alarms).",
        "entries": entries,
        "queries": [{"q": q, "relevant": r} for q, r in QUERIES],
    }
    (here / "ocr_dev.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{len(entries)} images, {len(QUERIES)} queries in {out_dir}")


if __name__ == "__main__":
    main()
