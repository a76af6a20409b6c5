"""``python manage.py simulate``: a season of the chain under the same seeded demand twice —
``siloed`` and ``omni`` — through Omni's real services, each in a scratch database of its own.

The parent creates one scratch database per policy (``omni.benchmarks.scratch``: never the user's
data), runs one child process per policy at the same time (``simulate --in-scratch``), draws one
progress bar from their reports, then prints both KPI tables side by side with the changes, writes
the HTML report and, as its last line, one JSON object.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from omni.benchmarks.scratch import is_scratch, scratch_environment

OPTIONS_ENV = "OMNI_SIMULATE_OPTIONS"
PROGRESS = "@progress"
RESULT = "@result"


class Command(BaseCommand):
    help = "Simulate a season of the chain, siloed vs Omni, through the real services (in scratch databases)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--stores", type=int, default=40)
        parser.add_argument("--skus", type=int, default=30)
        parser.add_argument("--policy", choices=("siloed", "omni", "both"), default="both")
        parser.add_argument("--from-db", action="store_true",
                            help="simulate the chain (DC, stores, catalogue) of the current database instead of the demo chain; "
                                 "the current database is only read")
        parser.add_argument("--report", default="simulation-report.html", help="where to write the HTML report")
        parser.add_argument("--keep", action="store_true", help="keep the scratch databases and print where they are")
        parser.add_argument("--in-scratch", action="store_true", help="internal: run one policy in its scratch database")

    def handle(self, *args, **opts):
        if opts["in_scratch"]:
            return self._child(opts)
        return self._parent(opts)

    # ------------------------------------------------------------------ child
    def _child(self, opts) -> None:
        from fulfillment.simulation.kpis import compute, ledger_consistency
        from fulfillment.simulation.run import run_policy
        from fulfillment.simulation.scenario import scenario_from_json

        if not is_scratch(connection.settings_dict):
            raise CommandError("--in-scratch is internal: it runs only in the scratch database `simulate` created.")
        spec = json.loads(os.environ[OPTIONS_ENV])
        if connection.vendor == "postgresql":
            # A scratch database: a commit need not wait for its WAL to reach the disk (nothing here
            # must survive a crash), which on a busy machine is most of a small transaction's time.
            with connection.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{connection.settings_dict["NAME"]}" SET synchronous_commit TO off')
            connection.close()
        call_command("migrate", verbosity=0, interactive=False)
        sc = scenario_from_json(spec["scenario"])
        policy = spec["policy"]

        def progress(day: int, days: int) -> None:
            self.stdout.write(f"{PROGRESS} {policy} {day} {days}")
            self.stdout.flush()

        started = time.perf_counter()
        log = run_policy(sc, policy, progress)
        seconds = time.perf_counter() - started
        kpis = compute(sc, log)
        self.stdout.write(RESULT + " " + json.dumps({"kpis": kpis, "log": log.as_dict(), "seconds": seconds,
                                                     "ledger": ledger_consistency(sc, log)}, default=str))

    # ------------------------------------------------------------------ parent
    def _parent(self, opts) -> None:
        from fulfillment.simulation.scenario import build_scenario, chain_from_db, scenario_to_json

        # Stopped (Ctrl-C, or TERM from a supervisor): the children are stopped and the scratch
        # databases dropped on the way out.
        signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))

        started = time.perf_counter()
        chain = catalogue = None
        if opts["from_db"]:
            chain, catalogue = chain_from_db(stores=opts["stores"], skus=opts["skus"])
        sc = build_scenario(seed=opts["seed"], days=opts["days"], stores=opts["stores"], skus=opts["skus"], chain=chain,
                            catalogue=catalogue)
        policies = ["siloed", "omni"] if opts["policy"] == "both" else [opts["policy"]]
        n_orders = sum(len(d) for d in sc.online)
        self.stdout.write(f"season: {sc.days} days, {len(sc.stores)} stores, {len(sc.skus)} SKUs, seed {sc.seed}, "
                          f"{n_orders} online orders wanted, demand digest {sc.digest()}")
        results = self._run_children(sc, policies, scenario_to_json(sc, chain=chain, catalogue=catalogue), keep=opts["keep"])
        seconds = time.perf_counter() - started
        self._print(sc, results, seconds, opts)

    def _run_children(self, sc, policies, scenario_json, *, keep: bool) -> dict:
        from contextlib import ExitStack

        with ExitStack() as stack:
            children = {}
            for policy in policies:
                scratch = stack.enter_context(scratch_environment(settings_dict=connection.settings_dict,
                                                                  label=f"sim{policy}", keep=keep))
                env = scratch.child_environ(os.environ)
                env[OPTIONS_ENV] = json.dumps({"policy": policy, "scenario": scenario_json})
                command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "simulate", "--in-scratch"]
                children[policy] = (subprocess.Popen(command, env=env, cwd=str(settings.BASE_DIR), stdout=subprocess.PIPE,
                                                     text=True, bufsize=1), scratch)
            stack.callback(_stop, [proc for proc, _s in children.values()])  # on any way out, before the drop
            done = dict.fromkeys(policies, 0)
            results: dict = {}
            import selectors

            sel = selectors.DefaultSelector()
            for policy, (proc, _s) in children.items():
                assert proc.stdout is not None
                sel.register(proc.stdout, selectors.EVENT_READ, policy)
            open_streams = len(children)
            while open_streams:
                for key, _mask in sel.select():
                    policy = key.data
                    stream = key.fileobj
                    assert isinstance(stream, io.TextIOBase)
                    line = stream.readline()
                    if not line:
                        sel.unregister(key.fileobj)
                        open_streams -= 1
                        continue
                    line = line.rstrip("\n")
                    if line.startswith(PROGRESS):
                        _tag, _p, day, days = line.split()
                        done[policy] = int(day)
                        self._bar(done, int(days))
                    elif line.startswith(RESULT):
                        results[policy] = json.loads(line[len(RESULT) + 1:])
                    else:
                        self.stderr.write(f"[{policy}] {line}")
            sys.stderr.write("\n")
            for policy, (proc, scratch) in children.items():
                if proc.wait() != 0 or policy not in results:
                    raise CommandError(f"the {policy} run failed in its scratch database (exit status {proc.returncode}).")
                if keep:
                    self.stdout.write(f"kept ({policy}): {scratch.display_url}")
        return results

    def _bar(self, done: dict, days: int) -> None:
        parts = []
        for policy, day in done.items():
            filled = int(20 * day / days) if days else 20
            parts.append(f"{policy:>6} [{'#' * filled}{'.' * (20 - filled)}] {day}/{days}")
        sys.stderr.write("\r" + "   ".join(parts))
        sys.stderr.flush()

    def _print(self, sc, results: dict, seconds: float, opts) -> None:
        from fulfillment.simulation.report import change, html_report, table_lines

        k = {p: r["kpis"] for p, r in results.items()}
        orders_total = sum(v["orders"] for v in k.values())
        summary = {"days": sc.days, "stores": len(sc.stores), "skus": len(sc.skus), "seed": sc.seed,
                   "demand_digest": sc.digest(), "orders": k.get("omni", next(iter(k.values())))["orders"],
                   "seconds": round(seconds, 1), "orders_per_s": round(orders_total / seconds, 1) if seconds else None,
                   "policy_seconds": {p: round(r["seconds"], 1) for p, r in results.items()}}
        if len(k) == 2:
            s, o = k["siloed"], k["omni"]
            if s["demand_digest"] != o["demand_digest"]:
                raise CommandError("the two runs saw different demand; this is a bug")
            for line in table_lines(s, o):
                self.stdout.write(line)
            summary.update({
                "lost_sales_change": change(s["lost_sales_units"], o["lost_sales_units"]),
                "fulfillment_cost_change": change(s["fulfillment_cost_per_order"], o["fulfillment_cost_per_order"]),
                "clearance_days_change": change(s["clearance_days"], o["clearance_days"]),
                "leftover_units_change": change(s["leftover_units"], o["leftover_units"]),
                "turnover_change": change(s["turnover"], o["turnover"]),
                "total_cost_change": change(s["total_cost"], o["total_cost"]),
                "bopis_cross_sell_rate": o["bopis_cross_sell_rate"],
                "oversell_rate_siloed": s["oversell_rate"], "oversell_rate_omni": o["oversell_rate"],
                "fill_rate_siloed": s["fill_rate"], "fill_rate_omni": o["fill_rate"],
                "ship_from_store_rate_omni": o["ship_from_store_rate"],
            })
            from fulfillment.simulation import DESIGN

            path = Path(opts["report"]).resolve()
            path.write_text(html_report(siloed=s, omni=o, logs={p: {**r["log"], "daily_fill": r["kpis"]["daily_fill"],
                                                                    "daily_cost_per_order": r["kpis"]["daily_cost_per_order"]}
                                                                for p, r in results.items()},
                                        summary=summary, design=DESIGN), encoding="utf-8")
            self.stdout.write(f"report: {path}")
        else:
            (policy, only), = k.items()
            for key, value in only.items():
                if not key.startswith("daily"):
                    self.stdout.write(f"{key}: {value}")
        self.stdout.write(json.dumps({key: (round(v, 4) if isinstance(v, float) else v) for key, v in summary.items()}))


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
