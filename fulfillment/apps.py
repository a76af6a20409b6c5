from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        """Follow orders: when an order's allocations change, its work is brought in line
        (inside the same transaction, the order locked)."""
        from orders.signals import allocations_changed

        allocations_changed.connect(_allocations_changed, dispatch_uid="fulfillment.materialize")


def _allocations_changed(sender, *, order_id: int, **kwargs) -> None:
    from fulfillment.services import materialize

    materialize(order=order_id)
