"""Providers: discover guests and open their console endpoints."""
