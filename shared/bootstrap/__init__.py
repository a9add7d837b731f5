"""Composition: builds a running service process from its ServiceDefinition (pool, broker, consumers,
outbox relay, HTTP app). Only a service's ``__main__`` imports it."""
