"""Leaves: settings, errors, progress, atomic files, byte-bounded caches, messages; they import nothing of the project."""
