"""Alembic environment for the configuration database.

``ConfigStore`` runs the migrations with a connection passed in
``config.attributes["connection"]``; a developer may instead run the alembic
command with ``sqlalchemy.url`` set, for example to write a new revision.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from tlstrunk.config.orm import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    # batch mode lets later migrations alter SQLite tables by copying them
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Set sqlalchemy.url or pass a connection to run the migrations.")
    engine = create_engine(url)
    with engine.begin() as new_connection:
        _run(new_connection)


if context.is_offline_mode():
    context.configure(
        url=context.config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
