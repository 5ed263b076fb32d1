"""Code shared by every function of both services, shipped as one Lambda layer.

Modules are imported one by one (``from commons.api import ...``) so that a
function only pays at cold start for what it uses.
"""
