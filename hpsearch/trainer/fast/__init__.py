"""The fast path the trainer runs: the fused minibatch step in preallocated buffers, its in-place kernels, the
test-mode hit counter, and the two lanes (threads) a big first layer is cut across."""
