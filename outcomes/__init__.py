"""outcomes: before/after outcome assessment for skin-rejuvenation treatments."""

__version__ = "0.1.0"
