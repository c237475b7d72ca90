"""The platform's notifier Lambda: failure emails to the SNS topic and starter records to the dead-letter queue."""
