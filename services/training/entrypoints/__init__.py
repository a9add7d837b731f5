"""Entrypoints of the training service: HTTP (``http.py``), the Kafka intake (``intake.py``), the
Kafka consumers (``consumers.py``), and the HTTP status of each domain error (``errors.py``)."""
