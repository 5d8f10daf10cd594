from meridian.db.migrate import run_env
from meridian_compliance.tables import metadata

run_env(metadata, schema='compliance')
