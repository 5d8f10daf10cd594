"""Meridian knowledge-base service: articles (multilingual, versioned) and search."""
