"""What a request means, independent of HTTP: the catalog, request schemas and options, the registry's
one lookup, jobs built from requests (templating, limits, GPU duration), costs and the quota ledger."""
