"""Use cases of the registration service, one module per section: ``facilitators``,
``enrollments``, ``orgunits``, ``bulk`` (CSV import) and ``trainings`` (what registration learns
from the training service).

A use case takes a command (a frozen dataclass), the ports it needs (``ports.py``: a unit of work
with repositories and ``emit``), plain values from the settings (the regions this deployment
serves, the hash key) and the caller's authorization check, and returns what it created or
changed. It refuses with the domain errors of ``domain.errors``. It knows nothing of SQL, HTTP or
Kafka: each write runs inside a unit of work given by its caller (an HTTP request or an intake
message), so its state change and its events commit together; the bulk import opens one unit of
work per row.

``authorize`` is the caller's check that it may act on a region: an HTTP credential's regions, or
the region of the intake topic the message arrived on. Reference-data writes take an
``authorize`` without arguments (admin credentials only).
"""
