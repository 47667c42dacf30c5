"""The longtail HTTP service, its Python client and the remote over-sampler.

This package imports nothing at import time, so that `api.client` and
`api.remote` stay free of torch: the app is in `api.main`.
"""
