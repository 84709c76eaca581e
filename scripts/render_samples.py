"""Render the sample images of samples/ with their ground truth (one JSON per image), or with
`--docs` the realistic generated photos the README shows (docs/images/).

The rendered files are committed, so the demo needs no font; re-rendering needs Pillow and a CJK
font (the subsets in tools/vehicle_license_tools/fonts, or Debian's fonts-wqy-microhei):

    python scripts/render_samples.py [--font PATH] [--out samples]
    python scripts/render_samples.py --docs [--out docs/images]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

from vehicle_license_intake.domain.fields import LICENSE_FIELDS
from vehicle_license_intake.domain.vin import with_check_digit
from vehicle_license_tools.synthetic import (
    FONT_CANDIDATES,
    MAIN_FIELDS,
    SECONDARY_FIELDS,
    Painter,
    not_a_license,
)

LICENSES: dict[str, dict[str, str]] = {
    "sedan": {
        "plate_number": "沪B7K29Q",
        "vehicle_type": "小型轿车",
        "owner": "李明远",
        "address": "上海市浦东新区银杏路88弄6号1203室",
        "use_character": "非营运",
        "model": "大众汽车牌SVW71525BU",
        "vin": with_check_digit("LSVAU2180N2184637"),
        "engine_number": "DKX045276",
        "register_date": "2022-03-18",
        "issue_date": "2022-03-18",
        "license_issuing_authority": "上海市公安局交通警察总队",
        "document_id": "310011893726",
        "approved_passengers_capacity": "5人",
        "total_mass": "1920kg",
        "curb_weight": "1455kg",
        "ratified_load_capacity": "",
        "gabarite": "4753×1800×1462mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": "检验有效期至2028年03月沪A(01)",
    },
    "electric": {
        "plate_number": "粤BD29571",
        "vehicle_type": "小型轿车",
        "owner": "陈晓雯",
        "address": "广东省深圳市南山区科苑路15号",
        "use_character": "非营运",
        "model": "比亚迪牌BYD7005BEV",
        "vin": with_check_digit("LGXCE4CB0L0381526"),
        "engine_number": "TZ220XS2031857",
        "register_date": "2020-09-07",
        "issue_date": "2020-09-07",
        "license_issuing_authority": "深圳市公安局交通警察局",
        "document_id": "440300725149",
        "approved_passengers_capacity": "5人",
        "total_mass": "2255kg",
        "curb_weight": "1880kg",
        "ratified_load_capacity": "",
        "gabarite": "4870×1950×1725mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": "检验有效期至2026年09月粤B(02)",
    },
}


def truth(image_name: str, page: str, fields: dict[str, str] | None, note: str) -> dict[str, Any]:
    document: dict[str, Any] = {"image": image_name, "page": page, "note": note}
    if fields is not None:
        document["fields"] = {name: fields.get(name, "") for name in LICENSE_FIELDS}
    return document


# The README's generated photos, beside its description of the real ones: file -> conditions,
# page, print face, seed (chosen to show a wood desk, a seat, a hand and a web copy).
DOC_IMAGES: dict[str, tuple[tuple[str, ...], str, str, int]] = {
    "synthetic-main-page-sleeve-glare.jpg": (("desk", "medium", "sleeve_glare"), "main", "mono", 4),
    "synthetic-both-pages-seat.jpg": (("seat", "medium", "both_pages"), "both", "serif", 2),
    "synthetic-hand-perspective-dot-matrix.jpg": (
        ("hand", "medium", "dot_matrix", "perspective"),
        "main",
        "dot_matrix",
        3,
    ),
    "synthetic-web-copy-watermark-banner.jpg": (
        ("desk", "small", "banner", "watermark"),
        "main",
        "italic",
        5,
    ),
}


def render_docs(out: Path) -> None:
    """Small JPEGs (at most 1000 px wide) of chosen realistic cases, for the README."""
    import io

    from PIL import Image

    from vehicle_license_tools.cards.corpus import CardCase, realistic_license, render

    out.mkdir(parents=True, exist_ok=True)
    for name, (conditions, page, style, seed) in DOC_IMAGES.items():
        fields = realistic_license(random.Random(seed))
        item = render(CardCase(0, seed, "vehicle_license", page, conditions, style, fields))
        image = Image.open(io.BytesIO(item.image))
        image.thumbnail((1000, 1000), Image.Resampling.LANCZOS)
        image.save(out / name, "JPEG", quality=80, optimize=True)
        print(f"{out / name}: {image.size[0]}x{image.size[1]}, {(out / name).stat().st_size // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--font", default=next((f for f in FONT_CANDIDATES if Path(f).exists()), None))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--docs", action="store_true", help="the README's realistic photos instead")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    if args.docs:
        render_docs(args.out or root / "docs" / "images")
        return
    args.out = args.out or root / "samples"
    if not args.font:
        parser.error("no CJK font found: apt-get install fonts-wqy-microhei, or pass --font")
    painter, rng, out = Painter(args.font), random.Random(20261124), args.out
    out.mkdir(parents=True, exist_ok=True)

    sedan, electric = LICENSES["sedan"], LICENSES["electric"]
    only = lambda data, names: {n: (data[n] if n in names else "") for n in LICENSE_FIELDS}  # noqa: E731
    outputs = [
        (
            "main-page.jpg",
            "main",
            [painter.main_page(sedan, rng)],
            only(sedan, MAIN_FIELDS),
            "main page of an invented sedan's license",
        ),
        (
            "secondary-page.jpg",
            "secondary",
            [painter.secondary_page(sedan, rng)],
            only(sedan, SECONDARY_FIELDS),
            "secondary page alone: the main page's fields are missing",
        ),
        (
            "我的行驶证 新能源 两页.jpg",
            "both",
            [painter.main_page(electric, rng), painter.secondary_page(electric, rng)],
            dict(electric),
            "both pages of an invented electric car's license in one photo; name with spaces and Chinese",
        ),
    ]
    for name, page, cards, fields, note in outputs:
        painter.photo(cards, rng).save(out / name, "JPEG", quality=88)
        (out / f"{Path(name).stem}.json").write_text(
            json.dumps(truth(name, page, fields, note), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    not_a_license(rng).save(out / "street-photo.jpg", "JPEG", quality=88)
    (out / "street-photo.json").write_text(
        json.dumps(
            truth(
                "street-photo.jpg", "none", None, "a street photo, not a license: the upstream answers 5021"
            ),
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    (out / "not-an-image.jpg").write_text(
        "This is a text file named like a photo. Local checks reject it.\n", encoding="utf-8"
    )
    (out / "not-an-image.json").write_text(
        json.dumps(
            truth(
                "not-an-image.jpg",
                "none",
                None,
                "text with a .jpg name: REJECTED UNSUPPORTED_FORMAT, no upstream call",
            ),
            ensure_ascii=False,
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
