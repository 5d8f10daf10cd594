from meridian.db.migrate import run_env
from meridian_translation.tables import metadata

run_env(metadata, schema='translation')
