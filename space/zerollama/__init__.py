"""zerollama: the Ollama and OpenAI HTTP APIs over transformers, for Hugging Face ZeroGPU Spaces."""

__version__ = "0.1.0"
