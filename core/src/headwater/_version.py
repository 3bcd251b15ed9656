"""The installed version of Headwater (kept equal to ``core/pyproject.toml``)."""

__version__ = "0.1.0"
