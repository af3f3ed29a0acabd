"""Hand-entered observations of indicators that are reported, not computed."""
