"""Lines whose customer already chose delivery keep it on the line itself (orders.OrderLine.delivery_chosen_at)."""

from django.db import migrations


def forwards(apps, schema_editor):
    CustomerChoice = apps.get_model("fulfillment", "CustomerChoice")
    OrderLine = apps.get_model("orders", "OrderLine")
    for choice in CustomerChoice.objects.filter(status="answered", chosen_kind="delivery").order_by("answered_at"):
        ids = [ln["order_line_id"] for ln in choice.lines if ln.get("order_line_id")]
        OrderLine.objects.filter(pk__in=ids, delivery_chosen_at__isnull=True).update(delivery_chosen_at=choice.answered_at)


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0008_one_name_per_model"),
        ("orders", "0008_line_delivery_chosen"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
