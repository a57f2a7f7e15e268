"""The emulated ZeroGPU mode: the real `spaces` package against a loopback stand-in of the device API."""
