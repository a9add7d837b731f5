"""All SQL of the training service: the ports of ``usecases/ports.py`` over asyncpg, and the
unit of work that commits a use case's state change with its events (shared.kernel.outbox)."""
