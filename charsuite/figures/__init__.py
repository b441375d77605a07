"""Figures: one registry of plotly figures -> PDF/SVG/PNG (kaleido) + report.html."""
