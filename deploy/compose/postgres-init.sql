-- Runs once, when the PostgreSQL container initialises an empty data directory (docker-compose.yml).
-- pgvector for the knowledge base's embeddings. It lives in the public schema, so every service schema
-- can use the `vector` type; the services create their own schemas and tables through Alembic at start.
CREATE EXTENSION IF NOT EXISTS vector;
