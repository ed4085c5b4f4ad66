"""Alembic migrations of the store (env.py + versions/). Run them with ``hospital-ops db upgrade``
or ``hospital_ops.store.db_upgrade(url)``; the Alembic configuration is built in code
(``hospital_ops.store.migrate.alembic_config``), there is no alembic.ini."""
