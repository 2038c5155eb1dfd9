"""segstudio: look at a model's masks against the truth, and fix them fast.

Importing the package loads neither Qt nor torch; the heavy parts live in subpackages.
"""

__version__ = "0.1.0"
