"""Use cases of the training service. Each takes a command (a frozen dataclass of its module), the
ports it needs (``ports.py``: a unit of work exposing repositories and ``emit``, or the read side),
plain values of the deployment, and an ``authorize`` callback; it returns a result and refuses
with a domain error (``domain/errors.py``). No SQL, no HTTP, no Kafka here.

``trainings``: schedule, update, cancel, close; ``classes``: class assignments; ``facts``:
attendance, assessments, OJT; ``sync``: offline batches; ``completion``: decisions and
certificates; ``queries``: reads.
"""
