"""Tools around the services: the local stack, the dead-letter tool, topic administration and the
contract export. They import the kernel, never a service."""
