"""DOMAIN.md rules: table-driven cases and properties (hypothesis). Pure: no AWS, no HTTP."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import LICENSE
from vehicle_license_intake.domain import validate_license
from vehicle_license_intake.domain.dates import InvalidDate, parse_date
from vehicle_license_intake.domain.plate import normalize_plate, plate_kind
from vehicle_license_intake.domain.vin import (
    OCR_CONFUSIONS,
    check_digit,
    has_valid_check_digit,
    model_year,
    single_confusion_suggestion,
    transliterate,
)

TODAY = date(2026, 11, 24)
CLEAN = LICENSE  # the clean license every test changes one thing of
VIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"


def reasons(**changes: str) -> list[str]:
    return validate_license({**CLEAN, **changes}, today=TODAY).review_reasons


def normalized(**changes: str) -> dict[str, object]:
    return validate_license({**CLEAN, **changes}, today=TODAY).normalized


def test_a_clean_license_has_no_review_reasons() -> None:
    result = validate_license(CLEAN, today=TODAY)
    assert result.review_reasons == [] and result.needs_review is False
    assert (
        result.normalized["vin_model_year"] == 2019
        and result.normalized["inspection_valid_until"] == "2099-06"
    )


@pytest.mark.parametrize(
    "vin", ["LBEHDAEB58Y038860", "LFWSRXNH6AAD38754", "LSGJT52U67H106722", "LSVWY4180KN246094"]
)
def test_the_valid_vins_of_domain_md_validate(vin: str) -> None:
    assert has_valid_check_digit(vin)
    assert "VIN_CHECK_DIGIT" not in reasons(vin=vin.lower())
    assert normalized(vin=f" {vin.lower()} ")["vin"] == vin


@pytest.mark.parametrize(
    ("vin", "code"),
    [
        ("LSVWY4180KN24609", "VIN_FORMAT"),
        ("LSVWY4I80KN246094", "VIN_FORMAT"),
        ("LSVWY4181KN246094", "VIN_CHECK_DIGIT"),
    ],
)
def test_bad_vins_are_review_reasons(vin: str, code: str) -> None:
    assert code in reasons(vin=vin)


def test_a_single_ocr_confusion_is_offered_as_a_suggestion_without_touching_the_vin() -> None:
    misread = "LSVWY418OKN246094"  # O read for 0
    result = normalized(vin=misread)
    assert result["vin"] == misread and result["vin_suggestion"] == "LSVWY4180KN246094"
    assert normalized()["vin_suggestion"] is None


def test_model_year_is_the_latest_cycle_not_after_registration_plus_one() -> None:
    assert model_year("LSVWY4180KN246094", 2026) == 2019
    assert normalized(register_date="2005-01-01")["vin_model_year"] == 1989  # K: 1989 or 2019


def test_model_year_that_cannot_fit_the_registration_is_a_reason() -> None:
    year_y = with_check_digit("LSVWY418YN246094")  # Y: 2000 or 2030
    assert "VIN_MODEL_YEAR" in reasons(vin=year_y, register_date="1995-01-01", issue_date="1995-01-02")
    no_year_code = with_check_digit("LSVWY4180N246094"[:8] + "0" + "N246094")  # position 10 is "0"
    assert "VIN_MODEL_YEAR" in reasons(vin=no_year_code)


@pytest.mark.parametrize(
    ("plate", "kind"),
    [
        ("沪A12345", "ordinary"),
        ("京AD92035", "new_energy_small"),
        ("粤B12345D", "new_energy_large"),
        ("鲁B1234挂", "trailer"),
        ("川A1234学", "coach"),
        ("京A1234警", "police"),
        ("粤Z1234港", "hong_kong_macau"),
        ("粤Z1234澳", "hong_kong_macau"),
        ("沪A1234领", "consular"),
        ("使123456", "embassy"),
        ("123456使", "embassy"),
        ("沪I12345", "unknown"),
        ("XX12345", "unknown"),
    ],
)
def test_each_plate_kind_is_recognised(plate: str, kind: str) -> None:
    assert plate_kind(normalize_plate(plate)) == kind


def test_plates_are_normalised_before_matching() -> None:
    assert normalize_plate("沪Ａ·１２３ ４５") == "沪A12345"
    assert normalized(plate_number="沪a-12345")["plate_number"] == "沪A12345"
    assert "PLATE_FORMAT" in reasons(plate_number="沪12345")


@pytest.mark.parametrize(
    "text",
    ["2020-06-01", "20200601", "2020.06.01", "2020年06月01日", "2020/6/1", "2020年6月1日", " 2020-06-01 "],
)
def test_every_vendor_date_format_becomes_iso(text: str) -> None:
    assert parse_date(text) == date(2020, 6, 1)
    assert normalized(register_date=text, issue_date=text)["register_date"] == "2020-06-01"


@pytest.mark.parametrize("text", ["2020-02-30", "2020-13-01", "yesterday", "2020-06"])
def test_impossible_dates_are_reasons(text: str) -> None:
    with pytest.raises(InvalidDate):
        parse_date(text)
    assert "DATE_INVALID:issue_date" in reasons(issue_date=text)


def test_dates_in_the_future_and_issue_before_register_are_reasons() -> None:
    assert "DATE_IN_FUTURE:issue_date" in reasons(issue_date="2027-01-01")
    assert "ISSUE_BEFORE_REGISTER" in reasons(issue_date="2020-05-31")


@pytest.mark.parametrize("marker", ["", "-", "--", "—", "/", "无", "  "])
def test_not_applicable_markers_become_null(marker: str) -> None:
    result = normalized(traction_mass=marker, ratified_load_capacity=marker, remarks=marker)
    assert (
        result["traction_mass_kg"] is None
        and result["ratified_load_kg"] is None
        and result["remarks"] is None
    )


@pytest.mark.parametrize(
    ("field", "text", "key", "value"),
    [
        ("approved_passengers_capacity", "5人", "approved_passengers", 5),
        ("approved_passengers_capacity", "2+3人", "approved_passengers", 5),
        ("total_mass", "1945kg", "total_mass_kg", 1945),
        ("total_mass", "1,945 kg", "total_mass_kg", 1945),
        ("curb_weight", "1495", "curb_weight_kg", 1495),
    ],
)
def test_numbers_are_parsed(field: str, text: str, key: str, value: int) -> None:
    assert normalized(**{field: text})[key] == value


@pytest.mark.parametrize(
    "gabarite", ["4885×1840×1455mm", "4885x1840x1455", "4885X1840X1455", "4885*1840*1455"]
)
def test_dimensions_in_every_separator(gabarite: str) -> None:
    result = normalized(gabarite=gabarite)
    assert (result["length_mm"], result["width_mm"], result["height_mm"]) == (4885, 1840, 1455)


def test_unparseable_numbers_are_reasons() -> None:
    assert "NUMBER_INVALID:total_mass" in reasons(total_mass="heavy")
    assert "NUMBER_INVALID:gabarite" in reasons(gabarite="4885x1840")


def test_inspection_takes_the_latest_valid_until_month_and_flags_expiry() -> None:
    result = validate_license(
        {**CLEAN, "inspection_record": "检验有效期至2024年06月沪A(01) 检验有效期至2025年06月沪A(01)"},
        today=TODAY,
    )
    assert (
        result.normalized["inspection_valid_until"] == "2025-06"
        and "INSPECTION_EXPIRED" in result.review_reasons
    )
    assert normalized(inspection_record="2022 2024")["inspection_valid_until"] is None


def test_cross_field_checks() -> None:
    assert "MASS_INCONSISTENT" in reasons(total_mass="1400")
    assert "USE_CHARACTER_UNKNOWN" in reasons(use_character="非运营")
    assert "PLATE_TYPE_MISMATCH" in reasons(plate_number="沪A1234挂")
    assert "PLATE_TYPE_MISMATCH" not in reasons(
        plate_number="沪A1234挂", vehicle_type="重型平板半挂车", use_character="货运"
    )
    assert "PLATE_TYPE_MISMATCH" in reasons(use_character="教练")
    assert "PLATE_TYPE_MISMATCH" not in reasons(
        plate_number="川A1234学", use_character="教练", license_issuing_authority="四川省成都市公安局"
    )
    assert "TRACTION_MASS_UNEXPECTED" in reasons(traction_mass="3500")
    assert "PROVINCE_MISMATCH" in reasons(license_issuing_authority="北京市公安局公安交通管理局")


@pytest.mark.parametrize("field", ["plate_number", "vehicle_type", "owner", "vin", "register_date"])
def test_missing_required_fields_are_reasons(field: str) -> None:
    assert f"MISSING:{field}" in reasons(**{field: ""})


def test_low_confidence_becomes_a_reason() -> None:
    result = validate_license(CLEAN, today=TODAY, confidence={"vin": 0.5, "owner": 0.99})
    assert result.review_reasons == ["LOW_CONFIDENCE:vin"]


vin_bodies = st.text(alphabet=VIN_ALPHABET, min_size=16, max_size=16)


def with_check_digit(body: str) -> str:
    draft = body[:8] + "0" + body[8:]
    return draft[:8] + check_digit(draft) + draft[9:]


@given(vin_bodies)
def test_a_vin_built_with_its_check_digit_always_validates(body: str) -> None:
    assert has_valid_check_digit(with_check_digit(body))


@given(vin_bodies, st.integers(min_value=0, max_value=16), st.sampled_from(VIN_ALPHABET))
def test_any_single_change_that_alters_the_transliterated_value_is_detected(
    body: str, position: int, char: str
) -> None:
    vin = with_check_digit(body)
    weights = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
    changed = vin[:position] + char + vin[position + 1 :]
    if position == 8:
        detected = char != vin[8]
    else:
        detected = weights[position] != 0 and transliterate(char) != transliterate(vin[position])
    if detected:
        assert not has_valid_check_digit(changed)


@settings(max_examples=50)
@given(vin_bodies, st.integers(min_value=0, max_value=16))
def test_a_suggestion_is_one_confusion_away_and_valid(body: str, position: int) -> None:
    vin = with_check_digit(body)
    if vin[position] not in OCR_CONFUSIONS:
        return
    misread = vin[:position] + OCR_CONFUSIONS[vin[position]][0] + vin[position + 1 :]
    suggestion = single_confusion_suggestion(misread)
    if suggestion is not None:
        assert has_valid_check_digit(suggestion)
        assert sum(a != b for a, b in zip(suggestion, misread, strict=True)) == 1


@given(
    vin_bodies,
    st.integers(min_value=0, max_value=16).filter(lambda position: position != 8),
    st.sampled_from([("O", "0"), ("Q", "0"), ("I", "1")]),
)
def test_a_letter_no_vin_may_hold_read_for_its_digit_is_suggested_back_exactly(
    body: str, position: int, confusion: tuple[str, str]
) -> None:
    """O, Q and I never occur in a VIN: the one way back to a valid VIN is their digit."""
    read, digit = confusion
    index = position if position < 8 else position - 1  # the body has no check digit
    vin = with_check_digit(body[:index] + digit + body[index + 1 :])
    misread = vin[:position] + read + vin[position + 1 :]

    assert single_confusion_suggestion(misread) == vin
    assert normalized(vin=misread)["vin_suggestion"] == vin


license_values = st.fixed_dictionaries(
    {name: st.one_of(st.just(value), st.text(max_size=12)) for name, value in CLEAN.items()}
)


@given(license_values)
def test_normalisation_is_idempotent(fields: dict[str, str]) -> None:
    first = validate_license(fields, today=TODAY)
    again = {
        **fields,
        **{k: str(v) for k, v in first.normalized.items() if k in fields and isinstance(v, str)},
    }
    second = validate_license(again, today=TODAY)
    for key in ("plate_number", "plate_kind", "vin", "register_date", "issue_date", "vehicle_type", "owner"):
        assert second.normalized[key] == first.normalized[key]


@pytest.mark.parametrize("field", ["plate_number", "vin"])
def test_a_plate_or_vin_of_separators_only_is_missing_not_empty(field: str) -> None:
    """Found by the idempotence property: '·' normalised to '' was stored as a value."""
    result = validate_license({**CLEAN, field: " · - "}, today=TODAY)
    assert result.normalized[field] is None
    assert f"MISSING:{field}" in result.review_reasons
