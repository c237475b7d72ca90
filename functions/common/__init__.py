"""Code every domain's Lambdas share: the lake, the manifest, the contract, HTTP, text decoding and the step runtime."""
