"""Thin routers: translate HTTP to calls on components, and back."""
