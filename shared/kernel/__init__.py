"""The kernel: what every service may import. Envelope, contracts, topics, outbox, the consumer
pipeline, database and Kafka plumbing, HTTP plumbing, credentials, settings types, domain errors.
It imports no service and nothing from shared.bootstrap or shared.tools."""
