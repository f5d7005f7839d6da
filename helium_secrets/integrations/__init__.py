"""Integrations with frameworks and platforms; each module imports its framework or SDK only
when imported itself, and each is behind its own extra:

* :mod:`~helium_secrets.integrations.pydantic`: a pydantic-settings source and live settings
  (``helium-secrets[pydantic]``);
* :mod:`~helium_secrets.integrations.django`: settings references, the PostgreSQL engine with
  rotating credentials, the system check (``helium-secrets[django]``);
* :mod:`~helium_secrets.integrations.flask`: the ``init_app`` extension (``helium-secrets[flask]``);
* :mod:`~helium_secrets.integrations.fastapi`: a lifespan and ``Depends`` dependencies on the
  async store (``helium-secrets[fastapi]``);
* :mod:`~helium_secrets.integrations.opentelemetry`: spans and metrics from the audit events
  (``helium-secrets[opentelemetry]``);
* :mod:`~helium_secrets.integrations.aws_lambda`: a Secrets Manager rotation Lambda
  (``helium-secrets[aws]``).
"""
