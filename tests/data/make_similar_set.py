"""Generate the similar-photos development set (`tests/data/similar/` + `similar_dev.json`).

Deterministic (fixed seed): running it again writes the same files. Built only from images
that installed packages ship (gradio's cheetahs, lion, tower, groot and UI screenshot,
matplotlib's Grace Hopper, logos, terrain and MRI data drawn as pictures, networkx's and
sympy's test drawings) and the OCR dev set's photographed documents.

- catalog: photos a user saved, each with a description.
- near-duplicate queries: each catalog photo resized, recompressed (JPEG 30-90), cropped
  as phone editors crop (10-30% off each cut edge: a dragged corner, an aspect-ratio
  preset centred, a dragged edge), turned a quarter or 2-8 degrees, brightened or
  darkened, shown in a phone screenshot, and that screenshot forwarded (recompressed).
  Two harder kinds are marked `stress` and reported apart from the target: four edges
  cut unevenly, and a cropped photo then screenshotted. Only the transform and its
  parameters are stored: `assistant evaluate similar` applies them.
- unrelated queries: photos that are not in the catalog (another cheetah, documents of
  the same kinds, a plot like one in the catalog), as sent and recompressed.
- same-document queries: catalog documents photographed again (another font, angle and
  light): found as the same document when a text reader is installed.

    .venv/bin/python tests/data/make_similar_set.py
"""

from __future__ import annotations

import gzip
import io
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_ocr_set import DOCUMENTS, draw_document, fonts, photograph  # noqa: E402

SEED = 20261129
MAX_SIDE = 800


def site(package: str) -> Path:
    module = __import__(package)
    return Path(module.__file__).parent


def flattened(path: Path) -> Image.Image:
    """The image on white (transparent logos), RGB."""
    with Image.open(path) as img:
        img.seek(0)
        rgba = img.convert("RGBA")
    back = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    back.alpha_composite(rgba)
    return back.convert("RGB")


def terrain() -> Image.Image:
    from matplotlib import colormaps
    from matplotlib.colors import LightSource

    dem = np.load(site("matplotlib") / "mpl-data" / "sample_data" / "jacksboro_fault_dem.npz")
    shaded = LightSource(azdeg=315, altdeg=45).shade(
        dem["elevation"], cmap=colormaps["gist_earth"], blend_mode="overlay", vert_exag=0.05
    )
    return Image.fromarray((shaded[:, :, :3] * 255).astype(np.uint8))


def seabed() -> Image.Image:
    from matplotlib import colormaps

    topo = np.load(site("matplotlib") / "mpl-data" / "sample_data" / "topobathy.npz")["topo"]
    norm = (topo - topo.min()) / (np.ptp(topo) or 1)
    picture = Image.fromarray((colormaps["terrain"](norm)[:, :, :3] * 255).astype(np.uint8))
    return picture.resize((480, 364), Image.Resampling.BICUBIC)


def mri() -> Image.Image:
    with gzip.open(site("matplotlib") / "mpl-data" / "sample_data" / "s1045.ima.gz") as f:
        raw = f.read()
    scan = np.frombuffer(raw, np.uint16).reshape(256, 256).astype(np.float32)
    return Image.fromarray((255 * scan / scan.max()).astype(np.uint8)).convert("RGB")


def package_photos() -> tuple[dict[str, tuple[Image.Image, str]], dict[str, Image.Image]]:
    """(catalog: id -> (picture, description), unrelated: id -> picture)."""
    gradio, mpl = site("gradio"), site("matplotlib") / "mpl-data" / "sample_data"
    nx = site("networkx") / "drawing" / "tests" / "baseline"
    sympy = site("sympy") / "plotting" / "tests"
    assets = gradio / "media_assets" / "images"
    catalog = {
        "cheetah_face": (flattened(assets / "cheetah1.jpg"), "guepardo olhando para a câmera"),
        "cheetah_running": (flattened(assets / "cheetah.jpg"), "guepardo correndo na savana"),
        "lion": (flattened(assets / "lion.jpg"), "leão deitado na pedra"),
        "tower": (flattened(assets / "tower.jpg"), "torre Eiffel iluminada"),
        "groot": (flattened(assets / "groot.jpeg"), "Groot no filme"),
        "grace_hopper": (flattened(mpl / "grace_hopper.jpg"), "Grace Hopper de uniforme"),
        "ui_screenshot": (flattened(assets / "screenshot.gif"), "print da tela do formulário"),
        "mpl_logo": (flattened(mpl / "logo2.png"), "logo do matplotlib"),
        "gift": (flattened(mpl / "Minduka_Present_Blue_Pack.png"), "ícone de presente azul"),
        "hf_logo": (flattened(assets / "hf-logo_transpng.png"), "emoji abraçando"),
        "graph_complex": (flattened(nx / "test_display_complex.png"), "grafo com rótulos"),
        "graph_diamonds": (flattened(nx / "test_display_labels_and_colors.png"), "grafo colorido"),
        "graph_path": (flattened(nx / "test_display_shortest_path.png"), "caminho mais curto"),
        "graph_house": (flattened(nx / "test_display_house_with_colors.png"), "grafo da casa"),
        "region_or": (flattened(sympy / "test_region_or.png"), "gráfico de duas regiões"),
        "region_and": (flattened(sympy / "test_region_and.png"), "gráfico de interseção"),
        "region_not": (flattened(sympy / "test_region_not.png"), "gráfico azul com furo"),
        "terrain": (terrain(), "mapa de relevo da falha"),
        "mri": (mri(), "ressonância do crânio"),
    }
    unrelated = {
        "cheetah_cub": flattened(gradio / "test_data" / "cheetah2.jpg"),
        "region_xor": flattened(sympy / "test_region_xor.png"),
        "seabed": seabed(),
        "bus": flattened(assets / "bus.png"),
        "gradio_logo": flattened(assets / "logo.png"),
    }
    return catalog, unrelated


def save(img: Image.Image, path: Path) -> None:
    img = img.copy()
    img.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=90)
    path.write_bytes(out.getvalue())


def near_duplicate_steps(rng: random.Random) -> list[tuple[str, list[list[Any]], bool]]:
    """(kind, steps, stress) for one catalog photo: every transform the issue names, and
    two harder ones reported apart (`stress`: outside the target, see the README)."""

    def cut() -> float:
        return round(rng.uniform(0.10, 0.30), 3)

    corner = {"cut_x": cut(), "cut_y": cut(), "left": rng.choice([0, 1]), "top": rng.choice([0, 1])}
    centred = {"cut_x": cut(), "cut_y": cut(), "left": 0.5, "top": 0.5}
    edge = rng.choice(
        [
            {"cut_x": 0.0, "cut_y": cut(), "left": 0.0, "top": rng.choice([0, 1])},
            {"cut_x": cut(), "cut_y": 0.0, "left": rng.choice([0, 1]), "top": 0.0},
        ]
    )
    uneven = {
        "cut_x": cut(),
        "cut_y": cut(),
        "left": round(rng.random(), 3),
        "top": round(rng.random(), 3),
    }
    light = rng.choice([rng.uniform(0.6, 0.8), rng.uniform(1.25, 1.5)])
    tilt = rng.choice([-1, 1]) * rng.uniform(2, 8)
    dark = rng.random() < 0.5
    return [
        ("resize", [["resize", {"factor": round(rng.uniform(0.25, 0.75), 3)}]], False),
        ("jpeg_30", [["jpeg", {"quality": 30}]], False),
        ("jpeg_30_90", [["jpeg", {"quality": rng.randint(30, 90)}]], False),
        ("crop_corner", [["crop", corner]], False),
        ("crop_centred", [["crop", centred]], False),
        ("crop_edge", [["crop", edge]], False),
        ("rotate_90", [["rotate", {"degrees": rng.choice([90, 180, 270])}]], False),
        ("rotate_small", [["rotate", {"degrees": round(tilt, 2)}]], False),
        ("brightness", [["brightness", {"factor": round(light, 3)}]], False),
        ("screenshot", [["screenshot", {"dark": dark}]], False),
        (
            "screenshot_forwarded",
            [["screenshot", {"dark": not dark}], ["jpeg", {"quality": rng.randint(50, 80)}]],
            False,
        ),
        ("crop_uneven", [["crop", uneven]], True),
        (
            "crop_then_screenshot",
            [["crop", dict(corner)], ["screenshot", {"dark": dark}], ["jpeg", {"quality": 70}]],
            True,
        ),
    ]


def main(here: Path = HERE) -> None:
    rng = random.Random(SEED)
    out_dir = here / "similar"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir()
    photos, others = package_photos()
    catalog: list[dict[str, Any]] = []
    for name, (img, text) in photos.items():
        save(img, out_dir / f"{name}.jpg")
        catalog.append({"id": name, "image": f"similar/{name}.jpg", "text": text})
    # Documents: most in the catalog (their text read), the rest unrelated.
    ocr = json.loads((here / "ocr_dev.json").read_text(encoding="utf-8"))
    docs = [e for e in ocr["entries"] if e.get("truth")]
    held_out = {d["id"] for d in rng.sample(docs, 12)}
    for doc in docs:
        if doc["id"] not in held_out:
            first = doc["truth"].splitlines()[0]
            catalog.append(
                {"id": doc["id"], "image": doc["image"], "text": first.lower(), "read_text": True}
            )
    queries: list[dict[str, Any]] = []
    for item in catalog:
        for kind, steps, stress in near_duplicate_steps(rng):
            query = {
                "from": item["id"],
                "kind": kind,
                "steps": steps,
                "expect": "near_duplicate",
                "source": item["id"],
            }
            if stress:
                query["stress"] = True
            queries.append(query)
    strangers = {name: f"similar/unrelated_{name}.jpg" for name in others}
    for name, img in others.items():
        save(img, here / strangers[name])
    strangers.update({d["id"]: d["image"] for d in docs if d["id"] in held_out})
    for name, path in sorted(strangers.items()):
        for kind, steps in [
            ("as_sent", []),
            ("resize", [["resize", {"factor": 0.5}]]),
            ("jpeg_30_90", [["jpeg", {"quality": 40}]]),
        ]:
            queries.append(
                {"image": path, "kind": kind, "steps": steps, "expect": "unrelated", "about": name}
            )
    # The same paper photographed again, in another font and light.
    lines = dict(DOCUMENTS)
    available = fonts()
    in_catalog = [d for d in docs if d["id"] not in held_out]
    for doc in rng.sample(in_catalog, 8):
        font = next(f for f in available if f.name != doc.get("font"))
        picture = photograph(draw_document(lines[doc["id"]], font, rng), rng, clean=False)
        path = f"similar/again_{doc['id']}.jpg"
        out = io.BytesIO()
        picture.save(out, format="JPEG", quality=70)
        (here / path).write_bytes(out.getvalue())
        queries.append(
            {
                "image": path,
                "kind": "photographed_again",
                "expect": "same_document",
                "source": doc["id"],
            }
        )
    for number, query in enumerate(queries, start=1):
        query["id"] = f"q{number:03d}"
    data = {
        "about": "Similar photos (generated by make_similar_set.py, deterministic). Catalog"
        " photos are saved with their descriptions; each query is a photo (a catalog photo"
        " after `steps`, or an image file) with what must be found: its source as a"
        " near-duplicate, nothing (unrelated), or its source as the same document.",
        "catalog": catalog,
        "queries": queries,
    }
    (here / "similar_dev.json").write_text(
        json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print(f"{len(catalog)} catalog photos, {len(queries)} queries in {out_dir}")


if __name__ == "__main__":
    main()
