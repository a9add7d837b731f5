"""Every SQL statement of the service: the read-model queries (``reads.py``) and the projections
that write the read models (``projections/``)."""
