"""Shared plumbing: clock, citizen IDs, roles, scoping, errors."""
