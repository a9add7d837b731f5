"""The KOTAKU Ops common library: event contracts, the envelope, and the messaging, database,
HTTP and metrics plumbing that every service shares. Services import from here and never from
each other."""
