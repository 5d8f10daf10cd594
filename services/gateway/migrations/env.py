from meridian.db.migrate import run_env
from meridian_gateway.tables import metadata

run_env(metadata, schema='gateway')
