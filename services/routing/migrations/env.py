from meridian.db.migrate import run_env
from meridian_routing.tables import metadata

run_env(metadata, schema='routing')
