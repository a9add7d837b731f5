"""Test configuration. Unit tests need nothing; tests marked ``real`` use the Kafka broker and
PostgreSQL that ``make test`` starts (deploy/local), and fail loudly, never skip, without them."""
