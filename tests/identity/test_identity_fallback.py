from __future__ import annotations

import os
from datetime import date

import cv2
import numpy as np
import pytest

from triage_kiosk.identity import (
    InvalidIdNumber,
    QrTokenCodec,
    QrTokenError,
    ReplayGuard,
    ResidentIdHasher,
    decode_qr,
    mask_id,
    validate_resident_id,
)
from triage_kiosk.identity.fallback import check_character, qr_image

TODAY = date(2026, 11, 25)
NOW_S = 1_795_000_000
#: Widely published example numbers with correct check characters.
VALID = ("11010519491231002X", "440524188001010014")


@pytest.mark.parametrize("number", VALID)
def test_valid_resident_ids_pass(number: str) -> None:
    """Known-good numbers validate; birth date and sex digit are parsed."""
    rid = validate_resident_id(number, today=TODAY)
    assert rid.number == number and rid.region == number[:6]
    assert rid.birth_date == date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def test_id_input_is_normalised_and_never_printed() -> None:
    """Lower-case x and spaces are accepted; repr masks the number."""
    rid = validate_resident_id(" 110105 19491231 002x ", today=TODAY)
    assert rid.number == "11010519491231002X" and not rid.male
    assert "19491231" not in repr(rid) and mask_id(rid.number) == "110105********002X"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("110105194912310021", "check character does not match"),
        ("11010519491231002", "must be 18 characters, got 17"),
        ("1101051949123100XX", "17 digits followed by a digit or X"),
        ("11010519490230002X", "birth date 19490230 is not a valid date"),
        ("99010519491231002X", "region code 99"),
    ],
)
def test_invalid_resident_ids_are_refused(number: str, reason: str) -> None:
    """Checksum, length, characters, date and region are each checked, naming the field."""
    with pytest.raises(InvalidIdNumber, match=f"id_number: .*{reason}"):
        validate_resident_id(number, today=TODAY)


def test_future_birth_date_is_refused() -> None:
    """A number whose birth date is after today cannot be real."""
    first17 = "11010520301231002"
    with pytest.raises(InvalidIdNumber, match="not plausible"):
        validate_resident_id(first17 + check_character(first17), today=TODAY)


def test_check_character_is_iso_7064_mod_11_2() -> None:
    """The check character of the published examples is reproduced, X included."""
    assert check_character("11010519491231002") == "X"
    assert check_character("44052418800101001") == "4"


def test_id_hash_is_keyed_and_hides_the_number() -> None:
    """Only a keyed HMAC is stored: stable for one key, different for another, 64 hex chars, and
    no trace of the number; a short key is refused."""
    k1, k2 = os.urandom(32), os.urandom(32)
    h = ResidentIdHasher(k1)
    a = h.hash(VALID[0], today=TODAY)
    assert a == h.hash(" 11010519491231002x", today=TODAY) and len(a) == 64
    assert a != ResidentIdHasher(k2).hash(VALID[0], today=TODAY)
    assert VALID[0][:10] not in a
    assert h.matches(VALID[0], a) and not h.matches(VALID[1], a)
    with pytest.raises(InvalidIdNumber):
        h.hash("123")
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ResidentIdHasher(b"short")


@pytest.fixture
def codec() -> QrTokenCodec:
    return QrTokenCodec(os.urandom(32))


def test_qr_token_round_trip(codec: QrTokenCodec) -> None:
    """A token signed for a patient verifies to the same patient until it expires."""
    token = codec.sign("P-000123", now_s=NOW_S, ttl_s=300)
    claims = codec.verify(token, now_s=NOW_S + 60)
    assert claims.patient_id == "P-000123" and claims.expires_at_s == NOW_S + 300 and claims.token_id


def test_qr_token_expiry_and_clock(codec: QrTokenCodec) -> None:
    """Expired, issued in the future, or valid for too long: refused with the reason."""
    token = codec.sign("P-1", now_s=NOW_S, ttl_s=300)
    with pytest.raises(QrTokenError, match="expired") as exc:
        codec.verify(token, now_s=NOW_S + 300 + 31)
    assert exc.value.reason == "expired"
    codec.verify(token, now_s=NOW_S + 300 + 29)  # within the 30 s clock skew
    with pytest.raises(QrTokenError, match="issued in the future"):
        codec.verify(token, now_s=NOW_S - 120)
    lax = QrTokenCodec(codec._key, max_ttl_s=86_400)
    with pytest.raises(QrTokenError) as exc:
        codec.verify(lax.sign("P-1", now_s=NOW_S, ttl_s=3600), now_s=NOW_S)
    assert exc.value.reason == "too_long_lived"


def test_qr_token_signature(codec: QrTokenCodec) -> None:
    """A changed payload, another key, or junk is refused before the payload is trusted."""
    token = codec.sign("P-1", now_s=NOW_S)
    prefix, payload, sig = token.split(".")
    forged = QrTokenCodec(os.urandom(32)).sign("P-2", now_s=NOW_S)
    for bad in (f"{prefix}.{forged.split('.')[1]}.{sig}", forged):
        with pytest.raises(QrTokenError) as exc:
            codec.verify(bad, now_s=NOW_S)
        assert exc.value.reason == "bad_signature"
    for junk in ("", "hello", "HO1.a.b.c", "HO2." + payload + "." + sig, "HO1.é." + sig, "x" * 600):
        with pytest.raises(QrTokenError) as exc:
            codec.verify(junk, now_s=NOW_S)
        assert exc.value.reason in ("malformed", "bad_signature")


def test_qr_token_cannot_be_used_twice(codec: QrTokenCodec) -> None:
    """A screenshot of a used code is refused at the next scan."""
    guard = ReplayGuard()
    claims = codec.verify(codec.sign("P-1", now_s=NOW_S), now_s=NOW_S)
    guard.use(claims, now_s=NOW_S)
    with pytest.raises(QrTokenError, match="already used"):
        guard.use(claims, now_s=NOW_S + 5)


def test_qr_image_is_decoded_from_a_camera_frame(codec: QrTokenCodec) -> None:
    """A real QR image (cv2.QRCodeEncoder) of a signed token, shown in a 640×480 frame, is read by
    cv2.QRCodeDetector and verifies; a frame without a code gives None."""
    token = codec.sign("P-000123", now_s=NOW_S)
    code = qr_image(token, module_px=5)
    frame = np.full((480, 640, 3), 70, np.uint8)
    h, w = code.shape
    y0, x0 = (480 - h) // 2, (640 - w) // 2
    frame[y0 : y0 + h, x0 : x0 + w] = code[..., None]
    frame = cv2.GaussianBlur(frame, (3, 3), 0)  # a camera is never perfectly sharp
    text = decode_qr(frame)
    assert text == token
    assert codec.verify(text, now_s=NOW_S + 10).patient_id == "P-000123"
    assert decode_qr(np.full((480, 640, 3), 70, np.uint8)) is None
