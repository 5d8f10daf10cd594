from meridian.db.migrate import run_env
from meridian_ticket.tables import metadata

run_env(metadata, schema='ticket')
