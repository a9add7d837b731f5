"""The doors of the service: HTTP and the dashboard, the Kafka consumers, the rebuild command."""
