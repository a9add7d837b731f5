"""Unit tests of the training use cases, on in-memory fakes of their ports."""
