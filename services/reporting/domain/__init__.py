"""What the reports are and the rules they follow, without I/O: the report models, display names,
periods and the arithmetic of rates and totals, and the refusals by code."""
