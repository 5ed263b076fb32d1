"""The local runtime: the synthesized stacks run on this machine with DynamoDB Local."""
