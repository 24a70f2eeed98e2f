"""Indicator forms: periodic numeric reporting per unit, with validation, approval,
aggregation up the unit tree, completeness and timeliness, and Excel in the annex layout."""
