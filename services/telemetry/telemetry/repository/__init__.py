"""The only code that talks to DynamoDB: one module per item type."""
