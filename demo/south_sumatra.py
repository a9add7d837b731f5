"""The South Sumatra 2016 scenario's data: 242 facilitators (invented people) from the 7
kota/kabupaten of OC 02, trained 31 July - 7 August 2016 at Asrama Haji Palembang.

Everything is generated deterministically, so loading twice produces the same people (and the
second load is refused as duplicates). The NIKs are synthetic and belong to no one.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

REGION = "oc02"
PROVINCE = "16"  # Sumatera Selatan
TRAINING_ID = uuid.uuid5(uuid.NAMESPACE_URL, "kotaku:oc02:pelatihan-dasar-2016-07-31")

# (Kemendagri code, name, participants)
KABKOTA: tuple[tuple[str, str, int], ...] = (
    ("16.71", "Kota Palembang", 70),
    ("16.72", "Kota Pagar Alam", 26),
    ("16.73", "Kota Lubuklinggau", 24),
    ("16.74", "Kota Prabumulih", 32),
    ("16.02", "Kab. Ogan Komering Ilir", 30),
    ("16.01", "Kab. Ogan Komering Ulu", 28),
    ("16.03", "Kab. Muara Enim", 32),
)

_GIVEN = (
    "Ahmad",
    "Siti",
    "Budi",
    "Dewi",
    "Rizky",
    "Nurul",
    "Hendra",
    "Ratna",
    "Agus",
    "Fitri",
    "Andi",
    "Yulia",
    "Fajar",
    "Indah",
    "Dedi",
    "Lestari",
    "Joko",
    "Wulan",
    "Reza",
    "Putri",
    "Ilham",
    "Sari",
    "Bayu",
    "Ayu",
    "Taufik",
    "Maya",
    "Arif",
    "Rina",
    "Hadi",
    "Nadia",
    "Yusuf",
    "Intan",
    "Irfan",
    "Melati",
    "Eko",
    "Kartika",
)
_FAMILY = (
    "Saputra",
    "Wijaya",
    "Pratama",
    "Hidayat",
    "Nasution",
    "Siregar",
    "Kusuma",
    "Rahman",
    "Harahap",
    "Lubis",
    "Permana",
    "Gunawan",
    "Setiawan",
    "Susanto",
    "Hakim",
    "Fauzi",
    "Ramadhan",
    "Syahputra",
    "Anggraini",
    "Maharani",
    "Puspita",
    "Utami",
    "Wahyuni",
    "Marlina",
    "Yuliani",
    "Febriani",
)


@dataclass(frozen=True)
class DemoFacilitator:
    nik: str
    full_name: str
    role: str
    kabkota_code: str


def facilitators() -> list[DemoFacilitator]:
    rng = random.Random(2016)
    people: list[DemoFacilitator] = []
    serial = 0
    for code, _name, count in KABKOTA:
        for i in range(count):
            serial += 1
            # Two Asisten Korkot and about one Senior Fasilitator in six per kota/kabupaten.
            role = "askot" if i < 2 else "senior_fasilitator" if i % 6 == 2 else "fasilitator"
            day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(70, 95)
            if rng.random() < 0.5:
                day += 40  # NIK convention: women's birth day is stored plus 40
            district = rng.randint(1, 20)
            nik = f"{code.replace('.', '')}{district:02d}{day:02d}{month:02d}{year:02d}{serial:04d}"
            name = f"{rng.choice(_GIVEN)} {rng.choice(_FAMILY)}"
            people.append(DemoFacilitator(nik=nik, full_name=name, role=role, kabkota_code=code))
    return people
