from tests.orders.conftest import World, world  # noqa: F401  (the same small world of stores, a warehouse and SKUs)
