"""The ports of ``usecases/ports.py`` over PostgreSQL: every SQL statement of the service is in
this package. ``unit_of_work.py`` joins the repositories to the outbox, so that a use case's state
change and its events commit in one transaction."""
