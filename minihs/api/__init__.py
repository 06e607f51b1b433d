"""The HTTP layer: one module per spec module, each handler parsing the request,
authenticating, calling one thing of :mod:`minihs.domain`, and shaping the reply.

``app.py`` builds the aiohttp application (routes, the error middleware, lifecycle);
``request.py`` holds the parsing and authentication helpers every handler uses;
``middleware.py`` renders every outcome as Matrix JSON with CORS headers.
"""
