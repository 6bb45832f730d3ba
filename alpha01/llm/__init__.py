"""Model backends (local llama.cpp, Zhipu cloud, fakes) and the router between them."""
