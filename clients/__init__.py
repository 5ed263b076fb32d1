"""Clients of the two services: the storefront (orders API) and the device fleet (telemetry API).

Everything here talks HTTP only, so the same code runs against the local runtime and a deployed stack:

* ``clients.http``: the one HTTP layer (retries with backoff, problem+json errors as ``ApiError``);
* ``clients.config``: where the base URL, API key and token come from (flags > environment > local runtime);
* ``clients.storefront``: ``StorefrontClient`` and ``python -m clients.storefront``;
* ``clients.devices``: ``FleetAdminClient`` and ``DeviceClient``; ``python -m clients.fleet``;
* ``clients.simulator``: N simulated devices posting realistic readings;
* ``clients.demo``: the package behind ``make demo`` (``python -m clients.demo``), one module per job.
"""
