"""The core's built-in plugins: each module implements hooks exactly as a third-party plugin would.

They are listed in ``headwater.plugins.DEFAULT_PLUGINS`` and registered through the same call as
installed plugins; defaults are ``trylast`` so an installed plugin can override them.
"""
