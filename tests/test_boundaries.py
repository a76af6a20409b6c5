"""No app writes (or locks) another app's models: it asks the owning app's services.

Read from the source with ``ast`` (no import of the code under test): for every module of an
app, every call of a write method - ``save``, ``delete``, ``create``, ``get_or_create``,
``update_or_create``, ``update``, ``bulk_create``, ``bulk_update``, and ``select_for_update``
(locking another app's rows is writing them in all but name) - on a chain that starts at a model
class of another app (``StockLevel.objects.filter(...).update(...)``,
``StockLevel._default_manager.create(...)``), at a name bound to such a chain in the same
function (``level = StockLevel.objects.get(...); level.save()``, ``for level in
StockLevel.objects.all(): level.delete()``), or a raw SQL write (``UPDATE`` / ``INSERT INTO`` /
``DELETE FROM``) of another app's table. Which app owns a model comes from Django's app
registry; which app a module belongs to, from its package (``omni.access`` is the app
``access``; the rest of ``omni`` is project plumbing and owns no model).

Exempt, by design and named here: ``migrations`` (schema history), ``*/benchmarks/*`` (they
build their own scratch database), ``omni/demo`` (the demo retailer's seed, at the top of the
project) and ``fulfillment/simulation/chain.py`` (the simulated chain, in the simulation's own
scratch database). A related manager reached through an instance (``level.reservations.create``) is not
followed: that needs types, which mypy has and this check has not.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("omni", "inventory", "allocation", "orders", "fulfillment")
WRITES = frozenset(
    {"save", "delete", "create", "get_or_create", "update_or_create", "update", "bulk_create", "bulk_update",
     "select_for_update"}
)
EXEMPT = (re.compile(r"(^|/)migrations/"), re.compile(r"(^|/)benchmarks/"), re.compile(r"^omni/demo/"),
          re.compile(r"^fulfillment/simulation/chain\.py$"))
SQL_WRITE = re.compile(r"\b(?:UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+\"?([a-z_][a-z0-9_]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    writer: str
    owner: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.writer} writes {self.owner}'s {self.what}"


def app_of_module(dotted: str) -> str | None:
    """The app label a dotted module (or name inside one) belongs to, or None for plumbing."""
    best = None
    for config in apps.get_app_configs():
        if config.label in {"omni"}:
            continue
        if dotted == config.name or dotted.startswith(config.name + "."):
            if best is None or len(config.name) > len(best.name):
                best = config
    return best.label if best else None


def model_names_by_app() -> dict[str, set[str]]:
    owned: dict[str, set[str]] = {}
    for model in apps.get_models():
        owned.setdefault(model._meta.app_label, set()).add(model.__name__)
    return owned


def table_owners() -> dict[str, str]:
    return {model._meta.db_table: model._meta.app_label for model in apps.get_models()}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _import_map(tree: ast.AST, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> dotted target, for every import anywhere in the module."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    names[alias.name.split(".")[0]] = alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                if not is_package:
                    base = base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                names[alias.asname or alias.name] = f"{target}.{alias.name}"
    return names


def _chain_root(node: ast.AST) -> tuple[ast.Name | None, list[str]]:
    """Walk ``a.b(...).c.d(...)`` down to ``a``: its Name and the attribute names after it."""
    attrs: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node, list(reversed(attrs))
        else:
            return None, []


def _bound_names(target: ast.AST) -> list[str]:
    """The names an assignment target binds (``a``, ``a, (b, *c)``), not ``a.x`` or ``a[0]``."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in _bound_names(element)]
    return []


class _Checker:
    def __init__(self, *, path: str, module: str, is_package: bool, tree: ast.AST,
                 models: dict[str, set[str]], tables: dict[str, str]):
        self.path, self.module, self.tree = path, module, tree
        self.app = app_of_module(module)
        self.models, self.tables = models, tables
        self.imports = _import_map(tree, module, is_package)
        self.findings: list[Finding] = []

    def foreign_model(self, node: ast.AST, tainted: dict[str, str]) -> str | None:
        """'app.Model' when the chain starts at another app's model class (or a name bound to one)."""
        root, attrs = _chain_root(node)
        if root is None:
            return None
        if root.id in tainted:
            return tainted[root.id]
        target = self.imports.get(root.id)
        if target is None:
            return None
        dotted = ".".join([target, *attrs]).split(".")
        for i in range(1, len(dotted) + 1):
            name, owner = dotted[i - 1], app_of_module(".".join(dotted[: i - 1]))
            if owner and owner != self.app and name in self.models.get(owner, ()):
                return f"{owner}.{name}"
        return None

    def run(self) -> list[Finding]:
        if self.app is None:
            return []
        scopes = [n for n in ast.walk(self.tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        self.check_scope(self.tree, scopes_inside=True)
        for scope in scopes:
            self.check_scope(scope, scopes_inside=False)
        self.check_sql()
        return self.findings

    def _own_nodes(self, scope: ast.AST, module_level: bool):
        """The nodes of a scope, not descending into nested functions (they are scopes of their own)."""
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and module_level:
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not module_level:
                continue
            yield node
            stack.extend(ast.iter_child_nodes(node))

    def check_scope(self, scope: ast.AST, *, scopes_inside: bool) -> None:
        nodes = sorted(self._own_nodes(scope, scopes_inside), key=lambda n: (getattr(n, "lineno", 0), getattr(n, "col_offset", 0)))
        tainted: dict[str, str] = {}
        for node in nodes:
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                owner = self.foreign_model(node.value, tainted)
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name in _bound_names(target):
                        if owner:
                            tainted[name] = owner
                        else:
                            tainted.pop(name, None)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                owner = self.foreign_model(node.iter, tainted)
                if owner:
                    for name in _bound_names(node.target):
                        tainted[name] = owner
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
                owner = self.foreign_model(node.func.value, tainted)
                if owner:
                    self.findings.append(Finding(self.path, node.lineno, self.app, owner.split(".")[0], f"{owner} ({node.func.attr})"))

    def check_sql(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for match in SQL_WRITE.finditer(node.value):
                    owner = self.tables.get(match.group(1).lower())
                    if owner and owner != self.app:
                        self.findings.append(Finding(self.path, node.lineno, self.app, owner, f"table {match.group(1)} (raw SQL)"))


def check_source(source: str, *, path: str, module: str, is_package: bool = False) -> list[Finding]:
    return _Checker(path=path, module=module, is_package=is_package, tree=ast.parse(source),
                    models=model_names_by_app(), tables=table_owners()).run()


def project_findings() -> list[Finding]:
    findings: list[Finding] = []
    models, tables = model_names_by_app(), table_owners()
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if any(pattern.search(rel) for pattern in EXEMPT):
                continue
            findings += _Checker(path=rel, module=module_name(path), is_package=path.name == "__init__.py",
                                 tree=ast.parse(path.read_text(encoding="utf-8")), models=models, tables=tables).run()
    return findings


def test_no_app_writes_or_locks_another_apps_models():
    findings = project_findings()
    assert not findings, "Write through the owning app's services instead:\n" + "\n".join(map(str, findings))


def test_the_checker_scans_every_app():
    scanned = {app_of_module(module_name(p)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    assert {"inventory", "allocation", "access", "orders", "fulfillment"} <= scanned


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from inventory.models import StockLevel\n"
         "def f():\n    StockLevel.objects.filter(pk=1).update(reserved=0)\n",
         "inventory's inventory.StockLevel (update)"),
        ("from inventory import models as inv\n"
         "def f():\n    inv.StockLevel._default_manager.create(on_hand=1)\n",
         "inventory's inventory.StockLevel (create)"),
        ("from inventory.models import Reservation as R\n"
         "def f():\n    R.objects.bulk_create([])\n",
         "inventory's inventory.Reservation (bulk_create)"),
        ("from inventory.models import StockLevel\n"
         "def f():\n    level = StockLevel.objects.select_related('product').get(pk=1)\n"
         "    level.on_hand = 3\n    level.save()\n",
         "inventory's inventory.StockLevel (save)"),
        ("from inventory.models import StockLevel\n"
         "def f():\n    for level in StockLevel.objects.all():\n        level.delete()\n",
         "inventory's inventory.StockLevel (delete)"),
        ("from inventory.models import StockLevel\n"
         "def f(ids):\n    list(StockLevel.objects.select_for_update(of=('self',)).filter(pk__in=ids))\n",
         "inventory's inventory.StockLevel (select_for_update)"),
        ("def f(cursor):\n    cursor.execute('UPDATE inventory_stocklevel SET reserved = 0')\n",
         "inventory's table inventory_stocklevel (raw SQL)"),
    ],
)
def test_the_checker_finds_each_kind_of_foreign_write(source, expected):
    findings = check_source(source, path="orders/services/example.py", module="orders.services.example")
    assert [str(f) for f in findings] == [f"orders/services/example.py:{findings[0].line if findings else 0}: orders writes {expected}"]


def test_the_checker_leaves_reads_and_own_writes_alone():
    reads = ("from inventory.models import StockLevel\n"
             "def f():\n    level = StockLevel.objects.get(pk=1)\n    level = make()\n    level.save()\n"
             "    return StockLevel.objects.filter(on_hand__gt=0).values_list('pk', flat=True)\n")
    assert check_source(reads, path="orders/selectors.py", module="orders.selectors") == []
    own = "from orders.models import Order\ndef f():\n    Order.objects.filter(pk=1).update(status='x')\n"
    assert check_source(own, path="orders/services/x.py", module="orders.services.x") == []
    sql = "def f(cursor):\n    cursor.execute('SELECT on_hand FROM inventory_stocklevel')\n"
    assert check_source(sql, path="orders/selectors.py", module="orders.selectors") == []
