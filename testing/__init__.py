"""Helpers shared by tests and properties, kept out of the shipped packages (operator_under_test)."""
