"""im2latex course bundle: the small shared library every notebook imports."""

__version__ = "0.1.0"
