from tests.fulfillment.store.fixtures import associate, besiktas, kadikoy, manager  # noqa: F401
