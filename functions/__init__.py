"""finlake's runtime code: the Lambda functions of every domain (common, stocks, bndes, bank, cards, notifier)."""
