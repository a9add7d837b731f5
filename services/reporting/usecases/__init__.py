"""The queries behind every report: each takes the read port and returns a report model."""
