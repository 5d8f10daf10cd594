from meridian.db.migrate import run_env
from meridian_knowledge_base.tables import metadata

run_env(metadata, schema='knowledge_base')
