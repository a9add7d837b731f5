"""What a name is: letters of any script in the shape of a name; spam is refused by its shape."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from shared.kernel.text import MAX_NAME_LENGTH, TextRefused, check_name
from shared.kernel.validation import PersonName

# The blog-comment spam at the end of the 2016 news item (seed document), line by line, and the
# pieces of it a spammer could paste into a name field.
SEED_SPAM = (
    "Hard Rock Hotel & Casino Hollywood - MapyRO",
    "BalasHapusFind Hard Rock 대전광역 출장마사지 Hotel & Casino Hollywood, Hollywood, IN Hotels, Resorts "
    "서울특별 출장마사지 World Las Vegas, and more. 김포 출장샵 Hard Rock Hotel & Casino 안성 출장마사지 "
    "Hollywood. 구미 출장샵",
    "Find Hard Rock 대전광역 출장마사지 Hotel",
    "Resorts 서울특별 출장마사지 World Las Vegas, and more.",
    "김포 출장샵 Hard Rock Hotel",
    "Hard Rock Hotel & Casino 안성 출장마사지 Hollywood.",
    "Hollywood. 구미 출장샵",
    "Hard Rock Hotel & Casino",
    "Casino Hollywood - MapyRO",
    'Diskusi "Pemda Sebagai Nahkoda" |',
    "Paparan Pemandu |",
    "Dokumentasi lainnya:",
)
# Other shapes of junk a name field receives.
OTHER_JUNK = (
    "http://casino.example/promo",
    "www.mapyro.com",
    "promo@casino.example",
    "Budi 081234567890",
    "Agen #1 Slot",
    "Siti 😀",
    "Budi--Santoso",
    "<script>alert(1)</script>",
    "x" * (MAX_NAME_LENGTH + 1),
    "A",
    "...",
)
REAL_NAMES = (
    "Ni Made Ayu Sukarsih",
    "Dédé Suryana",
    "Nurul 'Aini",
    "Ṣāliḥ",
    "李华",
    "M.Zuherlan",
    "H. Ahmad Fauzi, S.Pd.I.",
    "Siti Rahmawati, S.T., M.Eng.",
    "Abdul-Rahman Ma'ruf",
    "I Gusti Ngurah Rai",
    "Nguyễn Văn An",
    "محمد عبد الله",
    "山田 太郎",
    "김민준",
    "Ñoman Dwi Putra",
)


class Named(BaseModel):
    name: PersonName


@pytest.mark.parametrize("line", SEED_SPAM + OTHER_JUNK)
def test_spam_and_junk_are_not_names(line: str) -> None:
    with pytest.raises(ValidationError, match=r"name|at most|String should have|several scripts|control"):
        Named(name=line)


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_in_any_script_are_kept_intact(name: str) -> None:
    assert Named(name=name).name == name


def test_spacing_is_normalised_but_letters_are_not_changed() -> None:
    assert check_name("  Budi\u00a0\u00a0Santoso ") == "Budi Santoso"
    assert check_name("De\u0301de\u0301") == "Dédé"  # NFC


def test_the_rule_is_about_shape_not_words() -> None:
    # Korean letters are letters: a well-formed Korean string is accepted as a name shape, and so is
    # a well-formed Latin one that happens to be an English word. Only shape decides.
    assert check_name("대전광역 출장마사지") == "대전광역 출장마사지"
    assert check_name("Hotel Casino") == "Hotel Casino"
    with pytest.raises(TextRefused, match="several scripts"):
        check_name("Hotel 출장마사지")


@pytest.mark.parametrize("bad", ["Siti\x00", "Budi\u202egnirts", "Ag\u200bus", "line\nbreak", "tab\there"])
def test_control_and_invisible_characters_are_refused(bad: str) -> None:
    with pytest.raises(TextRefused, match="control or invisible"):
        check_name(bad)


def test_the_refusal_says_which_character_without_echoing_the_input() -> None:
    with pytest.raises(TextRefused) as info:
        check_name("Hard Rock Hotel & Casino")
    assert "'&' (U+0026)" in str(info.value)
    assert "Hard Rock" not in str(info.value)
