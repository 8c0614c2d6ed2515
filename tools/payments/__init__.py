"""Payment-link providers implementing `tools.context.PaymentLinks`."""
