"""The rules of the registration service and the values they speak about, without I/O:
``facilitators`` (the role/speciality rule, keyed hashes of personal identifiers),
``enrollments`` (known trainings and the enrollment rules), ``orgunits`` (reference data and
region assignments), ``reasons`` (the reason codes a client chooses from), ``names`` (what a
person's name is) and ``errors`` (every refusal of the service, by code)."""
