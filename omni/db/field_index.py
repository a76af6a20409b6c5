"""A migration operation for a foreign key whose own index another index already covers.

``AlterField(..., db_index=False)`` on a foreign key makes Django drop the constraint and add it back
(``ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY``), which validates every row of the table while
holding a lock that blocks writes: on a large table, minutes of refused orders for an index drop.
``field_index_drop`` changes the field in the migration state as ``AlterField`` would and, in the
database, only drops the field's own single-column index (found by introspection: not unique, not a
primary key, only the name Django gave it); the foreign key is never touched. Reversed, it creates
the index again under that name."""

from __future__ import annotations

from django.db import migrations, models


def _own_indexes(schema_editor, model, column: str) -> list[str]:
    """The field's own index as Django named it (``db_index=True``: the name ``_create_index_name``
    gives the table and the column) if the table has it as a plain index of that column alone:
    an index someone added by hand, a partial one, one of ``Meta.indexes`` is never taken for it."""
    table = model._meta.db_table
    own = schema_editor._create_index_name(table, [column], suffix="")
    with schema_editor.connection.cursor() as cursor:
        constraints = schema_editor.connection.introspection.get_constraints(cursor, table)
    found = constraints.get(own)
    if found and found["index"] and not found["unique"] and not found["primary_key"] and found["columns"] == [column]:
        return [own]
    return []


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
            name = schema_editor._create_index_name(table, [column], suffix="")
            schema_editor.execute(
                f"CREATE INDEX IF NOT EXISTS {schema_editor.quote_name(name)} "
                f"ON {schema_editor.quote_name(table)} ({schema_editor.quote_name(column)})"
            )

    return migrations.SeparateDatabaseAndState(
        state_operations=[migrations.AlterField(model_name=model_name, name=field_name, field=field)],
        database_operations=[migrations.RunPython(forward, backward, elidable=False)],
    )
