"""Entry point of the Hugging Face Space (and of `npm run serve` locally).

`spaces` must be imported before torch initialises CUDA (ZeroGPU emulates CUDA in this process).
"""

import spaces  # noqa: F401  (first: patches torch on ZeroGPU; a no-op elsewhere)

from zerollama.server import main

if __name__ == "__main__":
    main()
