"""Trackers wrapped around a phase: memory, power/energy, thermal (base.py: the interface)."""
