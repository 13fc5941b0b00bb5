"""The clinic server: accounts, patients, photo uploads, a durable assessment queue and
the JSON API (``outcomes serve``).

Installed with the ``[service]`` extra. The core pipeline never imports this package;
it imports the core. Nothing here runs at import time: :func:`outcomes.service.app.create_app`
builds the application from :class:`outcomes.service.settings.ServiceSettings`.
"""
