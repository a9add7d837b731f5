"""The KOTAKU Ops services. Each runs as its own process and imports only ``shared``."""
