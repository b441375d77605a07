"""Monitors that wrap a phase: memory now; power, energy and thermal later."""
