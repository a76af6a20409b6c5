"""``python manage.py bench <name> [--json] [--keep] [options]``.

Each benchmark is a module ``<app>/benchmarks/<name>.py`` with:

- ``NAME`` (the command-line name) and ``HELP``;
- ``REQUIRES`` (optional): what it cannot run without, among ``"postgresql"`` and ``"redis-server"``;
- ``add_arguments(parser)`` for its own options (optional);
- ``run(*, out, **options) -> dict``: measures against a baseline in the same run, writes a human
  summary through ``out(line)``, and returns the result. With ``--json`` the result is printed as
  one JSON object on the last line.

A benchmark never touches the user's data: ``bench <name>`` creates a scratch database of its own
(``omni.benchmarks.scratch``: a new database on the same PostgreSQL server, or a temporary SQLite
file) and a private broker, runs the benchmark in a child process (``bench <name> --in-scratch``)
pointed at them, which migrates the scratch database and measures, relays its output, and drops
everything afterwards (``--keep`` keeps the database for inspection and prints where it is).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import shutil
import subprocess
import sys
import time
from types import ModuleType

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from omni.benchmarks.scratch import is_scratch, scratch_environment

APPS = ("inventory", "allocation", "orders", "fulfillment", "omni.insights")
OPTIONS_ENV = "OMNI_BENCH_OPTIONS"  # the benchmark's options, as JSON, for the child
_COMMON = ("verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks")


def discover() -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for app in APPS:
        try:
            package = importlib.import_module(f"{app}.benchmarks")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{app}.benchmarks.{info.name}")
            name = getattr(module, "NAME", None)
            if name and callable(getattr(module, "run", None)):
                found[name] = module
    return found


class Command(BaseCommand):
    help = ("Run a benchmark against its same-run baseline, in a scratch database of its own. "
            "`bench <name> --help` lists its options.")

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
        for name, module in sorted(discover().items()):
            sub = subparsers.add_parser(name, help=getattr(module, "HELP", ""))
            sub.add_argument("--json", action="store_true", help="print one JSON object as the last line")
            sub.add_argument("--keep", action="store_true", help="keep the scratch database and print where it is")
            sub.add_argument("--in-scratch", action="store_true", help=argparse.SUPPRESS)
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub)

    def handle(self, *args, benchmark: str, json: bool = False, keep: bool = False, in_scratch: bool = False, **options):
        module = discover().get(benchmark)
        if module is None:
            raise CommandError(f"Unknown benchmark {benchmark!r}.")
        for key in _COMMON:
            options.pop(key, None)
        if in_scratch:
            self._run_here(module, options)
        else:
            self._run_in_scratch(module, options, print_json=json, keep=keep)

    def _run_here(self, module: ModuleType, options: dict) -> None:
        """The child: measure in the scratch database the parent created (and nowhere else)."""
        if not is_scratch(connection.settings_dict):
            raise CommandError("--in-scratch is internal: it runs only in the scratch database `bench` created.")
        options.update(_loads(os.environ.get(OPTIONS_ENV, "{}")))
        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.stdout.write(f"scratch database ready in {time.perf_counter() - started:.1f}s")
        result = module.run(out=lambda line: self.stdout.write(line), **options)
        self.stdout.write(_json_dumps(result))  # always: the parent reads it, and prints it with --json

    def _run_in_scratch(self, module: ModuleType, options: dict, *, print_json: bool, keep: bool) -> None:
        name = module.NAME
        requires = set(getattr(module, "REQUIRES", ()))
        if "postgresql" in requires and connection.vendor != "postgresql":
            raise CommandError(f"bench {name} needs PostgreSQL: set DATABASE_URL (its scratch database is created on that server).")
        if "redis-server" in requires and not shutil.which("redis-server"):
            raise CommandError(f"bench {name} needs the redis-server binary (it starts a private one).")
        with scratch_environment(settings_dict=connection.settings_dict, label=name, keep=keep) as scratch:
            how = f"cloned from {scratch.cloned_from}" if scratch.cloned_from else "new"
            self.stdout.write(f"scratch database {scratch.display_url} ({how}); broker: {scratch.broker}")
            env = scratch.child_environ(os.environ)
            env[OPTIONS_ENV] = _json_dumps(options)
            command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "bench", name, "--in-scratch"]
            result_line = self._relay(command, env=env, cwd=str(settings.BASE_DIR))
            if keep:
                self.stdout.write(f"kept: {scratch.display_url}")
        if print_json:
            self.stdout.write(result_line)

    def _relay(self, command: list[str], *, env: dict[str, str], cwd: str) -> str:
        """Run the child, echo its lines as they come, and return its last line (the JSON result)."""
        with subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True, bufsize=1) as child:
            assert child.stdout is not None
            last = None
            for line in child.stdout:
                if last is not None:
                    self.stdout.write(last)
                last = line.rstrip("\n")
            code = child.wait()
        if code != 0 or last is None:
            if last:
                self.stdout.write(last)
            raise CommandError(f"the benchmark failed in its scratch database (exit status {code}).")
        _loads(last)  # the contract: the last line is one JSON object
        return last


def _loads(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise CommandError("expected a JSON object")
    return value


def _json_dumps(result: dict) -> str:
    return json.dumps(result, default=str, sort_keys=False)
