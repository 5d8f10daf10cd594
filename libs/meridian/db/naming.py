"""Constraint naming convention shared by every service's MetaData."""

from sqlalchemy import MetaData

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A MetaData with no schema: each engine's connections find the service's schema first on their
    search_path (meridian.db.engine)."""
    return MetaData(naming_convention=NAMING_CONVENTION)
