"""The telemetry service: devices post readings, a stream processor keeps rollups, alerts and device state."""
