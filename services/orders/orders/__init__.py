"""The orders service: products, orders, payments, stock and refunds."""
