"""The PostgreSQL engine with rotating credentials: ``"ENGINE":
"helium_secrets.integrations.django.postgresql"`` (psycopg 3 or psycopg2, as Django's own)."""
