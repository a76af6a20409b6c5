"""CSV stock imports: a streaming, set-based fast path (``parsing`` → ``staging`` → ``apply``),
driven by ``services.stock_import_run`` and tracked by ``ImportJob``."""
