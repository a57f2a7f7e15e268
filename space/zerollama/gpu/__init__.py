"""What runs under ZeroGPU's grant: the runner (the one @spaces.GPU entry, slots, caller binding), the
generation loop, model residency, output filtering and constrained decoding."""
