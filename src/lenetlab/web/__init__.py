"""The draw-a-digit page: ``lenetlab serve``. Needs the optional extra ``lenetlab[web]`` (FastAPI, uvicorn).

``create_app`` lives in :mod:`lenetlab.web.app`; this package imports nothing heavy so that
``lenetlab --help`` works without FastAPI installed.
"""
