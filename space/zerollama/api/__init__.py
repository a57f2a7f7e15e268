"""The HTTP side: the access guard and body limits, the Ollama and OpenAI routes, the catalog and
diagnostics routes. Handlers parse, call core/ for jobs and lookups, and shape the replies."""
