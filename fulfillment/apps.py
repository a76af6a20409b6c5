from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    name = "fulfillment"
    verbose_name = "Fulfillment"

    def ready(self) -> None:
        """Follow orders: when an order's allocations change, its work is brought in line
        (inside the same transaction, the order locked)."""
        from orders.signals import allocations_changed

        allocations_changed.connect(_allocations_changed, dispatch_uid="fulfillment.materialize")
        from fulfillment.signals import work_ready

        work_ready.connect(_work_ready, dispatch_uid="fulfillment.notify_ready")
        # The order's timeline in the admin shows the fulfilment steps too (orders cannot import us).
        from fulfillment.timeline import order_fulfilment_timeline
        from orders.timeline import timeline_source_register

        timeline_source_register("fulfillment", order_fulfilment_timeline)


def _allocations_changed(sender, *, order_id: int, new_order=None, allocations=None, **kwargs) -> None:
    """``new_order`` (with its ``allocations``): an order intake inserted in this very transaction."""
    from fulfillment.services import materialize

    if new_order is not None and allocations is not None:
        materialize(order=new_order, new_order_allocations=allocations)
    else:
        materialize(order=order_id)


def _work_ready(sender, *, work_id: int, **kwargs) -> None:
    """A pickup is ready (sent after commit): tell the customer, with the pickup code."""
    from fulfillment.models import NotificationKind
    from fulfillment.notifications.services import notify

    notify(work=work_id, kind=NotificationKind.READY)
