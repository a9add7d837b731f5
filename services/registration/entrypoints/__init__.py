"""The doors of the registration service: ``http.py`` (the /api/v1 router), ``intake.py`` (Kafka
intake messages), ``consumers.py`` (the training service's events), ``cli.py`` (``python -m
services.registration``). They translate what arrives (``schemas.py``, ``csvfile.py``,
``referencefile.py``) into use-case commands (``commands.py`` where doors share one) and results
into answers; ``errors.py`` gives each domain error its HTTP status; ``wiring.py`` takes the
store and settings from the process's runtime."""
