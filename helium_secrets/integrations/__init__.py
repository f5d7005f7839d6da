"""Integrations with frameworks and platforms; each module imports its framework or SDK only
when imported itself."""
