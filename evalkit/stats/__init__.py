"""Statistics for outcome evaluation."""
