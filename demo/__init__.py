"""The demo scenario: OC 02 South Sumatra's 2016 basic facilitator training (see docs/demo.md)."""
