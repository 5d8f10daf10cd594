from meridian.db.migrate import run_env
from meridian_ingest.tables import metadata

run_env(metadata, schema='ingest')
