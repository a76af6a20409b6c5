"""``python manage.py bench <name> [--json] [options]``.

Each benchmark is a module ``<app>/benchmarks/<name>.py`` with:

- ``NAME`` (the command-line name) and ``HELP``;
- ``add_arguments(parser)`` for its own options (optional);
- ``run(*, out, **options) -> dict``: measures against a baseline in the same run, writes a human
  summary through ``out(line)``, and returns the result. With ``--json`` the result is printed as
  one JSON object on the last line.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from types import ModuleType

from django.core.management.base import BaseCommand, CommandError

APPS = ("inventory", "allocation", "orders", "fulfillment")


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
    help = "Run a benchmark against its same-run baseline. `bench <name> --help` lists its options."

    def add_arguments(self, parser):
        subparsers = parser.add_subparsers(dest="benchmark", required=True, metavar="NAME")
        for name, module in sorted(discover().items()):
            sub = subparsers.add_parser(name, help=getattr(module, "HELP", ""))
            sub.add_argument("--json", action="store_true", help="print one JSON object as the last line")
            if hasattr(module, "add_arguments"):
                module.add_arguments(sub)

    def handle(self, *args, benchmark: str, json: bool = False, **options):
        module = discover().get(benchmark)
        if module is None:
            raise CommandError(f"Unknown benchmark {benchmark!r}.")
        for key in ("verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks"):
            options.pop(key, None)
        result = module.run(out=lambda line: self.stdout.write(line), **options)
        if json:
            self.stdout.write(_json_dumps(result))


def _json_dumps(result: dict) -> str:
    return json.dumps(result, default=str, sort_keys=False)
