"""A migration operation for a foreign key whose own index another index already covers.

``AlterField(..., db_index=False)`` on a foreign key makes Django drop the constraint and add it back
(``ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY``), which validates every row of the table while
holding a lock that blocks writes: on a large table, minutes of refused orders for an index drop.
``field_index_drop`` changes the field in the migration state as ``AlterField`` would and, in the
database, only drops the field's own single-column index (found by introspection: not unique, not a
primary key, not one of ``Meta.indexes``); the foreign key is never touched. Reversed, it creates a
single-column index again."""

from __future__ import annotations

from django.db import migrations, models


def _own_indexes(schema_editor, model, column: str) -> list[str]:
    named = {index.name for index in model._meta.indexes}
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return sorted(
        name for name, c in constraints.items()
        if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column] and name not in named
    )


def field_index_drop(app_label: str, model_name: str, field_name: str, field: models.Field) -> migrations.SeparateDatabaseAndState:
    """``field`` is the field as it is after the change (``db_index=False``)."""

    def forward(apps, schema_editor) -> None:
        model = apps.get_model(app_label, model_name)
        column = model._meta.get_field(field_name).column
        for name in _own_indexes(schema_editor, model, column):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def backward(apps, schema_editor) -> None:
        model = apps.get_model(app_label, model_name)
        column = model._meta.get_field(field_name).column
        if not _own_indexes(schema_editor, model, column):
            table = model._meta.db_table
            schema_editor.execute(
                f"CREATE INDEX {schema_editor.quote_name(f'{table}_{column}_own'[:63])} "
                f"ON {schema_editor.quote_name(table)} ({schema_editor.quote_name(column)})"
            )

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=field_name, field=field)],
        database_operations=[migrations.RunPython(forward, backward, elidable=False)],
    )
