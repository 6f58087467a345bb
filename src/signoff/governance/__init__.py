"""Governance services used by ``Registry``: auditing, evidence, gates (store + pure libraries)."""
