"""Entry point of the Hugging Face Space (and of `npm run serve` locally).

`spaces` must be imported before torch initialises CUDA (ZeroGPU emulates CUDA in this process), and after
the settings it reads at import (zerollama/zerogpu_env.py).
"""

from zerollama.zerogpu_env import keep_hf_cache

keep_hf_cache()

import spaces  # noqa: E402, F401  (before torch: patches it on ZeroGPU; a no-op elsewhere)

from zerollama.server import main  # noqa: E402

if __name__ == "__main__":
    main()
