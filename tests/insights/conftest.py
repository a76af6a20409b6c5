from tests.orders.conftest import World, world  # noqa: F401  (the small world of two stores, a warehouse and three SKUs)
