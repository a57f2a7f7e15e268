#!/bin/sh
# Start Ollama on the Space's port, then pull the catalog's default models (Ollama names from
# models.json). The server answers while models download, so the Space turns RUNNING at once and
# pull-models / validate can follow progress through /api/pull and /api/tags.
# ZEROLLAMA_PULL_MODELS (Space variable, space-separated Ollama names) replaces the catalog's list.
set -eu

models_file="${ZEROLLAMA_MODELS_FILE:-/home/user/app/models.json}"
models="${ZEROLLAMA_PULL_MODELS:-$(jq -r '.default_models[]' "$models_file")}"

ollama serve &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT

until ollama list >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "ollama serve exited before answering" >&2; exit 1; }
  sleep 1
done

for model in $models; do
  echo "pulling $model"
  # A failed pull leaves the server up: the pipeline's pull-models job retries it through the API.
  ollama pull "$model" || echo "pull of $model failed; retry with POST /api/pull" >&2
done

wait "$server"
