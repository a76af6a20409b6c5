"""What every ``manage.py bench`` shares: the scratch database and environment a benchmark runs in
(``scratch``) and how latencies are summarised (``measure``). The benchmarks themselves live in
``<app>/benchmarks/<name>.py``."""
