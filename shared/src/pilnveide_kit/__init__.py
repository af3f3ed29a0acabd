"""Domain-free kit shared by the Pilnveide services.

Holds no tables and no service schemas: settings bases, database helpers, problem-details
errors, JSON logging with request ids, cursor pagination, health endpoints, the JWT
verification module, an httpx client factory and test helpers.
"""
