"""Command lines: ``python flow.py ...`` (``flow_cli``) and the ``headwater`` console command (``console``)."""
