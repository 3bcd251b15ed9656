"""Unit tests of the core. Tests that touch the file system or environment use ``headwater_env``."""
