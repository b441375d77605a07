"""Turning measurements into claims: crossovers, scaling, memory model."""
