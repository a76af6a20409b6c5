from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders"

    def ready(self) -> None:
        """Tell inventory's ledger check who owns the reservations orders make (it reports open
        reservations whose allocation or hold is gone or closed)."""
        from inventory.owners import reservation_owner_register
        from orders.selectors import allocation_references_live, hold_references_live

        reservation_owner_register(prefix="order-allocation:", live=allocation_references_live)
        reservation_owner_register(prefix="hold:", live=hold_references_live)
