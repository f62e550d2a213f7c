"""Storage: SQLModel tables, repositories and Alembic migrations.

Repositories take an ``AsyncSession`` and never commit: the caller owns the
transaction (``async with db.transaction() as session: ...``).
"""
