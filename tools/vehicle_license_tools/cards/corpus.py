"""The realistic corpus: random valid licenses printed on realistic cards (pages.py) and
photographed under the conditions real photos show (photo.py), plus other cards that must be
answered 5021 (others.py). Deterministic by seed: the same (count, seed) gives the same images.

    for item in realistic_corpus(300, seed=2026):
        item.image            # JPEG bytes
        item.fields           # the 20 fields as printed on the page(s) shown ("" elsewhere)
        item.conditions       # ("hand", "large", "both_pages", "rotate90", ...)
        item.expected_code    # 5021 for a card that is no vehicle license, else None

`realistic_cases(count, seed)` is the plan alone (cheap: no pixels); `render(case)` draws one.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from vehicle_license_intake.domain.fields import LICENSE_FIELDS, MAIN_PAGE_FIELDS, SECONDARY_PAGE_FIELDS
from vehicle_license_tools.cards.pages import (
    Page,
    PixelBox,
    main_page,
    printed_values,
    printing,
    secondary_page,
)
from vehicle_license_tools.cards.photo import BACKGROUNDS, ROTATIONS, SIZES, photograph

# One of these leads each case in turn (so a small corpus still shows every one); others join at
# random. "plain" leads a case with none of them.
EXTRAS = (
    "plain",
    "sleeve_glare",
    "rotate90",
    "rotate180",
    "rotate270",
    "perspective",
    "jpeg_low",
    "watermark",
    "banner",
    "blur",
    "misregistration",
    "dot_matrix",
    "uneven_light",
    "noise",
)
EXTRA_RATE = 0.1
PRINT_EXTRAS = frozenset({"misregistration", "dot_matrix"})  # the license's second pass only
# Every condition a case can carry: its background, its size, both pages or not, its extras.
CONDITIONS = (*BACKGROUNDS, *SIZES, "both_pages", *EXTRAS[1:])
STYLES = ("mono", "serif", "italic")  # the second pass's face, dot_matrix aside
NEGATIVE_KINDS = ("driving_license", "id_card")
NEGATIVE_EVERY = 12  # one case in twelve is another card
PAGE_WEIGHTS = {"main": 0.45, "secondary": 0.2, "both": 0.35}
SIZE_WEIGHTS = (0.3, 0.45, 0.25)


@dataclass(frozen=True)
class CardCase:
    index: int
    seed: int
    kind: str  # vehicle_license, driving_license, id_card
    page: str  # main, secondary, both; none for other cards
    conditions: tuple[str, ...]
    style: str  # the values' face: mono, serif, italic, dot_matrix
    license: dict[str, str] = field(default_factory=dict)  # all 20 fields of the invented license


@dataclass
class CardImage:
    case: CardCase
    image: bytes  # JPEG
    size: tuple[int, int]  # width, height as saved
    fields: dict[str, str]  # the 20 fields as printed on the page(s) shown, "" elsewhere
    expected_code: int | None  # 5021: no vehicle license in the photo
    occluded: tuple[str, ...] = ()  # fields a banner or a thumb hides: not readable
    boxes: dict[str, PixelBox] = field(default_factory=dict)  # each printed value on the image
    stamp_boxes: list[PixelBox] = field(default_factory=list)  # the red stamp(s) on the image
    card_quads: list[list[tuple[float, float]]] = field(default_factory=list)  # each card's corners
    rotation: int = 0  # degrees clockwise the photo was turned
    quality: int = 0  # JPEG quality
    glare_boxes: list[PixelBox] = field(default_factory=list)
    banner_box: PixelBox | None = None

    @property
    def conditions(self) -> tuple[str, ...]:
        return self.case.conditions

    @property
    def page(self) -> str:
        return self.case.page


def realistic_license(rng: random.Random) -> dict[str, str]:
    """A random valid license (synthetic.random_license) as real cards print it: Beijing's
    authority by its real name (a 京 plate's, and a 使 or 领 plate's registered there), now and then a lower-case plate letter (鄂E3887k)."""
    from vehicle_license_tools import synthetic

    fields = synthetic.random_license(rng)
    if fields["plate_number"].startswith("京") or fields["license_issuing_authority"].startswith("北京市"):
        fields["license_issuing_authority"] = "北京市公安局公安交通管理局"
    plate = fields["plate_number"]
    if rng.random() < 0.03 and plate[-1].isalpha() and plate[-1].isascii():
        fields["plate_number"] = plate[:-1] + plate[-1].lower()
    return fields


def realistic_cases(count: int, seed: int = 2026) -> list[CardCase]:
    """The plan of `count` cases: which card, page(s), conditions and print face each gets."""
    master = random.Random(seed)  # noqa: S311 - test data, not secrets
    cases = []
    for index in range(count):
        case_seed = master.randrange(2**31)
        rng = random.Random(case_seed)  # noqa: S311
        negative = index % NEGATIVE_EVERY == NEGATIVE_EVERY - 1
        kind = (
            NEGATIVE_KINDS[(index // NEGATIVE_EVERY) % len(NEGATIVE_KINDS)] if negative else "vehicle_license"
        )
        page = "none" if negative else rng.choices(list(PAGE_WEIGHTS), list(PAGE_WEIGHTS.values()))[0]
        background = rng.choice(BACKGROUNDS)
        size = rng.choices(SIZES, SIZE_WEIGHTS)[0]
        lead = EXTRAS[index % len(EXTRAS)]
        if negative and lead in PRINT_EXTRAS:  # another card has no second printing pass
            lead = "plain"
        extras = set() if lead == "plain" else {lead}
        if lead != "plain":
            for extra in EXTRAS[1:]:
                if negative and extra in PRINT_EXTRAS:
                    continue
                if rng.random() < EXTRA_RATE and not (extra in ROTATIONS and extras & set(ROTATIONS)):
                    extras.add(extra)
        style = "dot_matrix" if "dot_matrix" in extras else rng.choice(STYLES)
        conditions = (background, size, *(("both_pages",) if page == "both" else ()), *sorted(extras))
        cases.append(
            CardCase(
                index,
                case_seed,
                kind,
                page,
                conditions,
                style,
                realistic_license(rng) if not negative else {},
            )
        )
    return cases


def render(case: CardCase) -> CardImage:
    """Draw the case: print its page(s), photograph them, encode the JPEG."""
    from vehicle_license_tools.cards.others import driving_license, id_card

    rng = random.Random(case.seed ^ 0x5EED)  # noqa: S311
    pages: list[Page] = []
    if case.kind == "vehicle_license":
        how = printing(rng, case.style, "misregistration" in case.conditions)
        values = printed_values(case.license)
        if case.page in ("main", "both"):
            pages.append(main_page({n: values[n] for n in MAIN_PAGE_FIELDS}, how, rng))
        if case.page in ("secondary", "both"):
            pages.append(secondary_page({n: values[n] for n in SECONDARY_PAGE_FIELDS}, how, rng))
    else:
        pages.append(driving_license(rng) if case.kind == "driving_license" else id_card(rng))
    shot = photograph(pages, set(case.conditions), rng)
    truth = dict.fromkeys(LICENSE_FIELDS, "")
    for page in pages:
        truth.update({name: value for name, value in page.printed.items() if name in truth})
    height, width = shot.image.shape[:2]
    return CardImage(
        case,
        shot.jpeg,
        (width, height),
        truth,
        None if case.kind == "vehicle_license" else 5021,
        tuple(sorted(shot.occluded)),
        shot.boxes,
        shot.stamp_boxes,
        shot.card_quads,
        shot.rotation,
        shot.quality,
        shot.glare_boxes,
        shot.banner_box,
    )


def realistic_corpus(count: int, seed: int = 2026) -> Iterator[CardImage]:
    """The cases of `realistic_cases(count, seed)`, drawn one at a time (a 4000 px photo is a few
    MB: the corpus is not held in memory)."""
    for case in realistic_cases(count, seed):
        yield render(case)
