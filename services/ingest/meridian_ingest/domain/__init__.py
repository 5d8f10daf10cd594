"""Pure ingest rules: webhook signatures and payloads, delivery outcomes and the retry schedule."""
