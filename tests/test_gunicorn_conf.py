"""omni/gunicorn.py's hooks."""

from __future__ import annotations

import gc
import importlib


def test_a_worker_freezes_what_loading_the_app_made():
    # post_worker_init runs in each worker once Omni is loaded: those objects leave the collector's
    # generations for good, so that a full collection no longer walks them.
    conf = importlib.import_module("omni.gunicorn")
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        conf.post_worker_init(object())
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
